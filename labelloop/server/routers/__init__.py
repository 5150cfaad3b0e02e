"""One router per resource; `labelloop.server.app.create_app` includes them."""
