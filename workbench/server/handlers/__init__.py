"""Tornado request handlers of the local SkyPortal-compatible server."""
