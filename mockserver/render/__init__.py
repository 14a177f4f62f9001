"""Turning domain values into bytes: JSON bodies, errors, images and videos."""
