"""MiniTwit in a real browser (Debian's Chromium, driven by Playwright).

Registers two users, logs in, posts, follows the other user, sees their message on
"My Timeline" and logs out, on a laptop-sized screen; then looks at the same pages on
a phone-sized one. Every page is saved as a screenshot under --out. Started by
tests/browser/run.sh, which runs MiniTwit first.
"""

import argparse
import re
import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class Run:
    def __init__(self, base_url: str, out: Path):
        self.base = base_url.rstrip("/")
        self.out = out
        self.shots = 0
        self.problems: list[str] = []

    def watch(self, page: Page) -> None:
        """Collects console errors (a CSP violation, a broken script) as problems."""

        def on_console(msg):
            # Gravatars are blocked below (the test runs without internet).
            if msg.type == "error" and "gravatar" not in (msg.location or {}).get("url", ""):
                if "Failed to load resource" not in msg.text:
                    self.problems.append(f"console: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def shot(self, page: Page, name: str) -> None:
        self.shots += 1
        path = self.out / f"{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"  screenshot {path}")

    def goto(self, page: Page, path: str) -> None:
        response = page.goto(self.base + path)
        assert response is not None and response.ok, f"GET {path}: {response and response.status}"

    def register(self, page: Page, username: str, email: str, password: str, shot: str | None = None):
        self.goto(page, "/register")
        expect(page).to_have_title(re.compile("Sign Up"))
        page.fill("input[name=username]", username)
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.fill("input[name=password2]", password)
        if shot:
            self.shot(page, shot)
        page.click("input[type=submit]")
        expect(page).to_have_url(self.base + "/login")
        expect(page.locator(".flashes")).to_have_text("You were successfully registered and can login now")

    def login(self, page: Page, username: str, password: str, shot: str | None = None):
        self.goto(page, "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        if shot:
            self.shot(page, shot)
        page.click("input[type=submit]")
        expect(page).to_have_url(self.base + "/")
        expect(page.locator(".flashes")).to_have_text("You were logged in")
        expect(page.locator("h2")).to_have_text("My Timeline")

    def post(self, page: Page, text: str):
        page.fill("textarea[name=text]", text)
        page.click("input[type=submit][value=Share]")
        expect(page.locator(".flashes")).to_have_text("Your message was recorded")
        expect(page.locator(".messages")).to_contain_text(text)

    def logout(self, page: Page):
        page.click("text=sign out")
        expect(page).to_have_url(self.base + "/public")
        expect(page.locator(".flashes")).to_have_text("You were logged out")
        expect(page.locator(".navigation")).to_contain_text("sign in")


def new_page(browser, run: Run, options: dict) -> Page:
    context = browser.new_context(**options)
    # No internet here: gravatars fail fast and show their placeholder.
    context.route(re.compile(r"^https://(www|secure)\.gravatar\.com/"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(10_000)
    run.watch(page)
    return page


def desktop(browser, run: Run) -> None:
    print("laptop-sized screen")
    page = new_page(browser, run, DESKTOP)
    run.goto(page, "/public")
    expect(page.locator("h2")).to_have_text("Public Timeline")
    expect(page.locator(".messages")).to_contain_text("There's no message so far.")
    run.shot(page, "public-empty")

    # A form error first, then two accounts.
    run.goto(page, "/register")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=email]", "bob@example.com")
    page.fill("input[name=password]", "secret")
    page.fill("input[name=password2]", "other")
    page.click("input[type=submit]")
    expect(page.locator(".error")).to_have_text("Error: The two passwords do not match")
    run.shot(page, "register-error")
    run.register(page, "bob", "bob@example.com", "bob's secret", shot="register-form")
    run.shot(page, "login-after-register")
    run.register(page, "Alice Liddell", "alice@example.com", "alice's secret")

    # Bob posts something.
    run.login(page, "bob", "bob's secret")
    run.post(page, "Hello from Bob! <b>not bold</b> & \"quoted\"")
    expect(page.locator(".messages .text").first).to_have_text("Hello from Bob! <b>not bold</b> & \"quoted\"")
    run.shot(page, "bob-posted")
    run.logout(page)

    # Alice logs in, posts, follows Bob and sees his message on her timeline.
    run.login(page, "Alice Liddell", "alice's secret", shot="login-form")
    run.shot(page, "alice-timeline-empty")
    run.post(page, "Down the rabbit hole we go.")
    expect(page.locator(".messages")).not_to_contain_text("Hello from Bob")
    run.shot(page, "alice-posted")

    run.goto(page, "/public")
    page.click("a:text-is('bob')")
    expect(page).to_have_url(run.base + "/bob")
    expect(page.locator("h2")).to_have_text("bob's Timeline")
    expect(page.locator(".followstatus")).to_contain_text("You are not yet following this user.")
    run.shot(page, "bob-page-not-following")
    page.click("button:text('Follow user')")
    expect(page).to_have_url(run.base + "/bob")
    expect(page.locator(".flashes")).to_have_text('You are now following "bob"')
    expect(page.locator(".followstatus")).to_contain_text("You are currently following this user.")
    run.shot(page, "bob-page-following")

    page.click("a:text('my timeline')")
    expect(page.locator("h2")).to_have_text("My Timeline")
    expect(page.locator(".messages")).to_contain_text("Hello from Bob!")
    expect(page.locator(".messages")).to_contain_text("Down the rabbit hole we go.")
    expect(page.locator(".messages .meta time").first).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d @ \d\d:\d\d$"))
    run.shot(page, "alice-timeline-with-bob")

    page.click("a:text('Alice Liddell')")
    expect(page).to_have_url(run.base + "/Alice%20Liddell")
    expect(page.locator(".followstatus")).to_have_text("This is you!")
    run.shot(page, "alice-own-page")

    response = page.goto(run.base + "/no%20such%20user")
    assert response is not None and response.status == 404, "an unknown user is a 404 page"
    expect(page.locator("h2")).to_have_text("Not found")
    run.shot(page, "not-found")

    run.goto(page, "/")
    run.logout(page)
    run.shot(page, "logged-out")
    page.context.close()


def phone(browser, run: Run) -> None:
    print("phone-sized screen")
    page = new_page(browser, run, PHONE)
    run.goto(page, "/public")
    run.shot(page, "phone-public")
    run.goto(page, "/register")
    run.shot(page, "phone-register")
    run.login(page, "Alice Liddell", "alice's secret", shot="phone-login")
    run.shot(page, "phone-my-timeline")
    run.goto(page, "/bob")
    run.shot(page, "phone-bob-page")
    page.click("button:text('Unfollow user')")
    expect(page.locator(".flashes")).to_have_text('You are no longer following "bob"')
    run.shot(page, "phone-unfollowed")
    # Nothing sticks out sideways on a small screen.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    run.logout(page)
    page.context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--chromium", required=True, help="the Chromium executable to drive")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    run = Run(args.base_url, args.out)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            desktop(browser, run)
            phone(browser, run)
        finally:
            browser.close()
    if run.problems:
        print("problems seen in the browser:", *run.problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"browser test passed ({run.shots} screenshots in {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
