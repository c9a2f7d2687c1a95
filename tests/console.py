"""Signing in to the consoles from the Flask test client (https, CSRF token from the form)."""

import re

PASSWORD = "correct horse battery"


def form_token(client, path="/console/login"):
    """The CSRF token of the form on a console page."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def https_client(app):
    """A test client on https, as the session cookie is Secure when PUBLIC_BASE_URL is."""
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def sign_in(client, email, password=PASSWORD):
    """Sign in; returns the response (302 on success)."""
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": form_token(client)},
    )
