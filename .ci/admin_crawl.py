"""Log in to a running CRM as a superuser and load every admin page once: the index,
each app's index, each model's list and add form and its first object's page, and the
static files they name. Standard library only (it runs in a production virtualenv).
Usage: admin_crawl.py BASE_URL USERNAME PASSWORD; exits 1 naming each page that was not 200."""

import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

base, username, password = sys.argv[1:4]
cookies = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
# As the TLS proxy in front says (BEHIND_TLS_PROXY=true).
opener.addheaders = [("X-Forwarded-Proto", "https"), ("Accept-Language", "zh-hans")]


def get(path):
    try:
        with opener.open(base + path, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


status, page = get("/admin/login/")
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode(
    {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
).encode()
request = urllib.request.Request(
    base + "/admin/login/", data=form, headers={"Referer": base.replace("http://", "https://", 1) + "/admin/login/"}
)
with opener.open(request, timeout=60) as response:
    assert "/admin/login/" not in response.url, "the login was refused"

seen, failed, queue, objects = set(), [], ["/admin/"], set()
while queue:
    path = queue.pop(0)
    if path in seen:
        continue
    seen.add(path)
    status, page = get(path)
    if status != 200:
        failed.append(f"{status} {path}")
        continue
    if not path.startswith("/admin/"):
        continue
    for link in re.findall(r'(?:href|src)="(/(?:admin|static)/[^"?#]*)"', page):
        parts = link.strip("/").split("/")
        if link.startswith("/static/"):
            queue.append(link)
        elif (
            link in ("/admin/logout/", "/admin/password_change/")
            or len(parts) < 2
            or parts[1] == "r"
            or {"delete", "history"} & set(parts)
        ):
            continue
        # app indexes, lists, add forms and other model pages; one object's page per model
        elif len(parts) in (2, 3, 4):
            queue.append(link)
        elif len(parts) == 5 and parts[4] == "change" and (parts[1], parts[2]) not in objects:
            objects.add((parts[1], parts[2]))
            queue.append(link)

print(f"admin crawl: {len(seen)} pages and static files loaded, {len(failed)} not 200")
for line in failed:
    print("  " + line)
sys.exit(1 if failed else 0)
