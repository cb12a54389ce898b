"""A WSGI application for the gunicorn worker tests (crm/tests/test_server.py): /refuse
answers 413 without reading the body, any other path reads it whole."""


def application(environ, start_response):
    if environ["PATH_INFO"] == "/refuse":
        body = b"too large"
        status = "413 Content Too Large"
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = b"read %d bytes" % len(environ["wsgi.input"].read(length))
        status = "200 OK"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
