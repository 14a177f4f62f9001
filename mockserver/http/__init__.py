"""The ASGI app: routes from the spec, handlers, the admin API and webhook delivery."""
