"""Deployment: `make image` (deploy/image.py) builds the Docker image and runs the bot in it."""
