"""Browser tests' fixtures and helpers: Debian's Chromium driven by Playwright, screenshots in
test-artifacts/ (1366x768, the smallest screen we support). Registered from the root conftest,
so every `test_browser_*.py` uses the same `page`, `base_data`, `login` and `shot`.

The setup installs Chromium (and a CJK font) with apt-get where it can (root, apt);
where it cannot, the tests are skipped with the reason shown.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
VIEWPORT = {"width": 1366, "height": 768}


def _apt_install(*packages) -> str | None:
    """Install Debian packages; None on success, else why not."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not root or no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            return f"{' '.join(command)} failed: {result.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def chromium():
    """The path of Chromium, installed on first use where possible."""
    pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)"
    )
    if not Path(CHROMIUM).exists():
        why = _apt_install("chromium", "fonts-wqy-microhei")
        if why or not Path(CHROMIUM).exists():
            if os.environ.get("CI"):  # .ci/run installs it first: in CI a browser test never skips
                pytest.fail(f"Chromium is not installed and could not be installed: {why}")
            pytest.skip(f"Chromium is not installed and could not be installed: {why}")
    elif not list(Path("/usr/share/fonts").rglob("*wqy*")):
        _apt_install("fonts-wqy-microhei")  # Chinese glyphs in screenshots; the test runs without
    return CHROMIUM


@pytest.fixture
def page(chromium, live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id=settings.TIME_ZONE)
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


# Boxes that scroll sideways by themselves (the admin's `#changelist .results` has
# overflow-x: auto): the page fits while a list inside it scrolls, and a person does not see
# the columns on its right. Each is named with how many pixels it hides.
_OVERFLOWING_BOXES = """() => {
  const found = [];
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) found.push(`page: ${page.scrollWidth} > ${window.innerWidth}`);
  const boxes = new Set(document.querySelectorAll("#changelist .results, .results, .module, table"));
  for (const el of document.querySelectorAll("body *")) {
    const overflow = getComputedStyle(el).overflowX;
    if (overflow === "auto" || overflow === "scroll") boxes.add(el);
  }
  for (const el of boxes) {
    if (!el.offsetParent && el !== document.body) continue;  // not shown
    if (el.scrollWidth > el.clientWidth + 1) {
      const name = el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`;
      found.push(`${name}: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  return found;
}"""


def horizontal_overflows(page) -> list[str]:
    """What scrolls sideways on the page: the page itself, and every box inside it
    (the changelist's results, modules, tables, any overflow-x box), with its widths."""
    return page.evaluate(_OVERFLOWING_BOXES)


def no_horizontal_scroll(page) -> bool:
    """Nothing on the page, the changelist's results box included, scrolls sideways."""
    return not horizontal_overflows(page)


@pytest.fixture
def base_data(transactional_db):
    """A live-server test's database (what migrations seed: roles, tiers; it is put back
    after the test's closing flush by the root conftest) and compiled catalogues."""
    call_command("compile_catalogues", stdout=open(os.devnull, "w"))  # noqa: SIM115


def login(page, base_url, username, password):
    """Log in through the admin's login form, as a person does."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def in_chinese(page, base_url):
    """The language a Chinese user picks: Django's language cookie."""
    in_language(page, base_url, "zh-hans")


def in_language(page, base_url, language):
    page.context.add_cookies([{"name": "django_language", "value": language, "url": base_url}])


@pytest.fixture
def demo_day(base_data):
    """The demo's story (a small one), with passwords the test knows (manager_li and
    supervisor log in with "browser-pw-3")."""
    from io import StringIO

    from django.contrib.auth import get_user_model

    call_command("seed_demo", players=120, stdout=StringIO())
    for user in get_user_model().objects.filter(username__in=["manager_li", "supervisor"]):
        user.set_password("browser-pw-3")
        user.save()
