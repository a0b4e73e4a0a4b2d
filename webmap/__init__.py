"""The web pages for planners, coordinators, pipe crews and bus dispatch (Flask blueprint)."""
