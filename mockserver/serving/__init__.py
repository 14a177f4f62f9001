"""The app on a real socket: a background server and the pytest plugin."""
