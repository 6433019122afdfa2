#!/usr/bin/env python3
"""The dashboard in a real headless Chromium (Selenium), against the whole local stack: PostgreSQL, mosquitto,
warden-cloud and a simulated board (scripts/cloudstack.py). A manager logs in, adds a person, grants a key, invites
the person's phone; the phone (wardenctl phone enroll) opens the door over the key-presentation protocol and the
doors page shows it live (server-sent events); the activity page filters and exports CSV; the manager logs out,
then signs in again through single sign-on at a real OpenID Connect provider (oidc-provider-mock from PyPI).
Screenshots at desktop and phone widths go to .build/dashboard/. Exit status 0 only when every check held."""
import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudstack import CloudStack, wait_for  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.path.join(REPO, ".build", "dashboard")
failures = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def submit(driver, css):
    """Clicks a form's button and waits for the next page to replace this one (a lookup right after the click can
    still see the old page, or none while the new one loads)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()

    def replaced(_):
        # Chromium reports a node of the page being torn down either as stale or, mid-navigation, as "Node with
        # given id does not belong to the document" (a plain WebDriverException): both mean the old page is gone.
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 15).until(replaced)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def door_state(state):
    """The front door's card shows `state` (a condition for `eventually`)."""
    return lambda d: d.find_element(By.CSS_SELECTOR, "[data-door=front] [data-field=state]").text == state


def eventually(driver, condition, what, seconds=10, poll=0.5):
    """A check that may take a moment (a live update, a delivery attempt): holds once `condition` is true."""
    try:
        WebDriverWait(driver, seconds, poll_frequency=poll).until(condition)
        check(True, what)
    except Exception:
        check(False, what)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print("  screenshot " + os.path.relpath(path, REPO))


def api(url, method, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
        return r.status, json.loads(text) if text else None


class Provider:
    """oidc-provider-mock on a free loopback port: clients must register, nonces are required."""

    def __enter__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.issuer = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(port),
                                      "--require-registration", "true", "--require-nonce", "true"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                api(self.issuer + "/.well-known/openid-configuration", "GET")
                return self
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("oidc-provider-mock did not start (scripts/bootstrap installs it)")
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def accessibility(driver, page):
    """Every form control has a label, every button a name, and the page does not scroll sideways."""
    unlabelled = driver.execute_script(
        """return [...document.querySelectorAll('input:not([type=hidden]), select')]
             .filter(e => !(e.id && document.querySelector('label[for="' + e.id + '"]')) && !e.closest('label')
                          && !e.getAttribute('aria-label')).map(e => e.name)""")
    check(unlabelled == [], f"{page}: every input has a label ({unlabelled})")
    nameless = driver.execute_script(
        "return [...document.querySelectorAll('button')].filter(b => !(b.textContent.trim() || b.getAttribute('aria-label'))).length")
    check(nameless == 0, f"{page}: every button has a name")
    wide = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(wide <= 1, f"{page}: no sideways scrolling ({wide}px too wide)")
    check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", f"{page}: the page names its language")


def main():
    with CloudStack(board=True) as s:
        d = browser()
        wait = WebDriverWait(d, 15)
        try:
            print("== log in")
            d.get(s.url + "/")
            check(d.current_url.endswith("/login"), "a signed-out visitor is sent to the login page")
            accessibility(d, "login")
            d.find_element(By.ID, "email").send_keys(s.admin_email)
            d.find_element(By.ID, "password").send_keys("not the password")
            submit(d, "form button[type=submit]")
            check("wrong" in d.find_element(By.CSS_SELECTOR, "[role=alert]").text, "a wrong password is refused")
            d.find_element(By.ID, "password").send_keys(s.admin_password)
            submit(d, "main form button[type=submit]")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-door=front]")))
            cookie = d.get_cookie("warden_session")
            check(cookie is not None and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
                  "the session cookie is HttpOnly and SameSite=Strict")
            state = d.find_element(By.CSS_SELECTOR, "[data-door=front] [data-field=state]").text
            check(state == "locked", f"the front door shows locked ({state})")
            accessibility(d, "doors")
            shot(d, "doors-desktop")

            print("== add a person, grant a key, invite the phone")
            d.get(s.url + "/people")
            d.find_element(By.ID, "new-name").send_keys("Rita Ruiz")
            d.find_element(By.ID, "new-email").send_keys("rita@acme.example")
            submit(d, "#add-person button")
            check("Added Rita Ruiz" in d.find_element(By.CSS_SELECTOR, "[role=status]").text, "the person is added")
            Select(d.find_element(By.ID, "grant-user")).select_by_visible_text("Rita Ruiz (rita@acme.example)")
            d.find_element(By.CSS_SELECTOR, "#grant input[value=front]").click()
            submit(d, "#grant button")
            granted = d.find_element(By.CSS_SELECTOR, "[role=status]").text
            check("Key granted to Rita Ruiz: Front door" in granted, f"the key is granted, said with names ({granted})")
            check(len(d.find_elements(By.CSS_SELECTOR, "#keys tbody tr")) == 1, "the key is listed")
            accessibility(d, "people")
            shot(d, "people-desktop")
            submit(d, "button[aria-label=\"Invite Rita Ruiz's phone\"]")
            invitation = wait.until(EC.presence_of_element_located((By.ID, "invitation"))).text
            check(invitation.startswith("winv_") and len(invitation) == 48, "the invitation is shown once")

            print("== the phone enrolls and opens the door; the dashboard shows it live")
            d.get(s.url + "/")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-door=front]")))
            phone = os.path.join(s.tmp, "rita-phone")
            key = os.path.join(s.tmp, "rita.pem")
            s.ctl("phone", "keygen", "--out", key)
            out = s.ctl("phone", "enroll", "--cloud", s.url, "--invitation", invitation, "--key", key, "--out", phone)
            print("  " + out.strip())
            creds = [f for f in os.listdir(phone) if f.endswith(".jws")]
            check(len(creds) == 1, "the phone received one credential")
            rc, answer = s.phone_unlock(os.path.join(phone, creds[0]), key)
            check(rc == 0 and "granted" in answer.lower(), f"the door opens for the phone ({answer.strip()})")
            eventually(d, door_state("unlocked"), "the door's card turns to unlocked without a reload")
            eventually(d, lambda _: "granted" in d.find_element(By.ID, "activity").text,
                       "the granted decision appears in the live activity")
            live = d.find_element(By.ID, "activity").find_elements(By.TAG_NAME, "li")[0].text
            check("Rita Ruiz" in live and "Front door" in live, f"... naming the person and the door ({live})")
            shot(d, "doors-live-desktop")
            eventually(d, door_state("locked"), "and back to locked when the relay relocks", seconds=20)

            print("== a lockdown plan, started and lifted from the doors page")
            api(s.url + "/v1/sites/hq/lockdown-plans/entrance", "PUT", {"name": "Entrance", "doors": ["front"]},
                token=s.token)
            d.get(s.url + "/")
            submit(d, "button[aria-label=\"Start lockdown: Entrance\"]")
            check("Lockdown started: Entrance (1 board)" in d.find_element(By.CSS_SELECTOR, "[role=status]").text,
                  "the plan's lockdown is sent to its board")
            eventually(d, door_state("lockdown"), "the door's card shows the lockdown live")
            submit(d, "button[aria-label=\"End lockdown: Entrance\"]")
            check("Lockdown lifted: Entrance" in d.find_element(By.CSS_SELECTOR, "[role=status]").text,
                  "the plan's lockdown is lifted")

            print("== activity: filter and export CSV")
            d.get(s.url + "/audit")
            Select(d.find_element(By.ID, "result")).select_by_value("granted")
            submit(d, "form.filters button")
            rows = d.find_elements(By.CSS_SELECTOR, "table tbody tr")
            check(len(rows) >= 1 and all("granted" in r.text for r in rows), f"the filter shows granted only ({len(rows)})")
            check(any("Rita Ruiz" in r.text and "Front door" in r.text and "Access granted" in r.text for r in rows),
                  f"who, where and what in words, not ids ({rows[0].text if rows else 'no rows'})")
            people = [o.get_attribute("textContent") for o in d.find_elements(By.CSS_SELECTOR, "#people option")]
            check("Rita Ruiz (rita@acme.example)" in people, "the person filter offers people by name")
            accessibility(d, "activity")
            shot(d, "activity-desktop")
            href = d.find_element(By.ID, "export").get_attribute("href")
            req = urllib.request.Request(href, headers={"Cookie": "warden_session=" + d.get_cookie("warden_session")["value"]})
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read().decode()
                check(r.headers["Content-Type"].startswith("text/csv"), "the export is CSV")
            table = list(csv.DictReader(io.StringIO(body)))
            check(any(row["result"] == "granted" and row["door"] == "front" and row["user_name"] == "Rita Ruiz"
                      and row["door_name"] == "Front door" for row in table),
                  f"the CSV has the granted entry ({len(table)} rows)")

            print("== webhooks: add one, send a test, read the delivery log")
            d.get(s.url + "/webhooks")
            # Port 9 (discard) is closed here: the delivery fails and the log says why.
            d.find_element(By.ID, "hook-url").send_keys("http://127.0.0.1:9/warden")
            submit(d, "#add-webhook button")
            secret = d.find_element(By.ID, "webhook-secret").text
            check(secret.startswith("whsec_"), "the webhook's signing secret is shown once")
            submit(d, "[data-webhook] form button")
            check("Test delivery queued" in d.find_element(By.CSS_SELECTOR, "[role=status]").text, "a test is queued")
            def attempted(_):
                d.get(s.url + "/webhooks")
                cells = [c.text for c in d.find_elements(By.CSS_SELECTOR, "[data-webhook] tbody tr:first-child td")]
                # time, event, status, attempts, last answer: tried at least once, refused, the reason kept
                return (len(cells) == 5 and cells[1] == "test" and cells[2] in ("pending", "failed")
                        and cells[3] != "0" and cells[4] not in ("", "-"))
            eventually(d, attempted, "the delivery log shows the failed attempt and why")
            check(secret not in d.page_source, "the secret is not shown again")
            accessibility(d, "webhooks")
            shot(d, "webhooks-desktop")

            print("== add a board: an enrollment token for the installer, used by wardenctl provision")
            d.get(s.url + "/devices")
            Select(d.find_element(By.ID, "board-door")).select_by_visible_text("Front door")
            submit(d, "#add-board button")
            token = wait.until(EC.presence_of_element_located((By.ID, "enrollment-token"))).text
            check(token.startswith("wen_") and len(token) == 47 and "--door front" in d.page_source, "the token and the command for the board are shown")
            accessibility(d, "enrollment token")
            root = os.path.join(s.tmp, "dashboard-board")
            out = s.ctl("provision", "--cloud", s.url, "--token", token, "--board", "sim", "--root", root,
                        "--boards-dir", os.path.join(REPO, "boards"), "--units-dir", os.path.join(REPO, "provisioning/systemd"),
                        "--unix-socket", os.path.join(root, "present.sock"))
            check("provisioned lock-" in out and "door front" in out, f"wardenctl provision takes the token ({out.strip()[:80]})")
            d.get(s.url + "/devices")
            device = out.split()[1].rstrip(":")
            check(device in d.page_source, f"the new board {device} is listed on the devices page")

            print("== software updates: an admin rolls a version out to the boards, then aborts it")
            d.get(s.url + "/devices")
            d.find_element(By.ID, "rollout-version").send_keys("9.9.9")
            submit(d, "#start-rollout button")
            cards = d.find_elements(By.CSS_SELECTOR, "article.rollout")
            check(bool(cards) and "9.9.9" in cards[0].text and "running" in cards[0].text and "wave 1 of 3" in cards[0].text
                  and "failed" not in cards[0].text and "nil" not in cards[0].text,
                  f"the rollout is listed, running its first wave ({cards[0].text if cards else 'no card'})")
            accessibility(d, "devices with a rollout")
            shot(d, "devices-rollout-desktop")
            submit(d, "article.rollout form.inline button")
            cards = d.find_elements(By.CSS_SELECTOR, "article.rollout")
            check(bool(cards) and "aborted" in cards[0].text and "aborted by" in cards[0].text,
                  f"the abort button stops it ({cards[0].text if cards else 'no card'})")
            d.find_element(By.ID, "rollout-version").send_keys("--bad")
            submit(d, "#start-rollout button")
            alert = d.find_elements(By.CSS_SELECTOR, "p.error")
            check(bool(alert) and "Debian version" in alert[0].text, "a bad version is refused with the reason")

            print("== a support bundle: an admin asks a board for one and downloads it")
            d.get(s.url + "/devices")
            submit(d, f"button[aria-label=\"Request a support bundle from {s.lock_id}\"]")
            row = [r for r in d.find_elements(By.CSS_SELECTOR, "tbody tr") if r.text.startswith(s.lock_id)]
            check(bool(row) and "requested" in row[0].text, f"the request is shown on the board's row "
                  f"({row[0].text if row else 'no row'})")
            order_file = os.path.join(s.tmp, "support-order.json")
            wait_for(lambda: os.path.exists(order_file), 15)
            # What warden-support.service runs on the board when wardend hands the signed request over.
            s.ctl("support-bundle", "--order", order_file, "--config", s._path("warden.yaml"),
                  "--log-file", s._path("wardend.log"), timeout=120)
            d.get(s.url + "/devices")
            links = d.find_elements(By.CSS_SELECTOR, f"a[aria-label^=\"Download the support bundle of {s.lock_id}\"]")
            check(bool(links), "after the board's upload the row links the bundle")
            accessibility(d, "devices with a support bundle")
            if links:
                # The browser's session downloads it: fetched here with the same cookie.
                cookie = "; ".join(f"{c['name']}={c['value']}" for c in d.get_cookies())
                req = urllib.request.Request(links[0].get_attribute("href"), headers={"Cookie": cookie})
                with urllib.request.urlopen(req, timeout=10) as r:
                    body = r.read()
                check(r.status == 200 and body[:2] == b"\x1f\x8b", f"the link downloads the archive ({len(body)} bytes)")

            print("== phone width")
            d.set_window_size(390, 844)
            for path, name in [("/", "doors"), ("/audit", "activity"), ("/people", "people"), ("/devices", "devices"),
                               ("/webhooks", "webhooks")]:
                d.get(s.url + path)
                accessibility(d, name + " (phone)")
                shot(d, name + "-phone")

            print("== log out")
            submit(d, "form.who button")
            wait.until(EC.url_contains("/login"))
            d.get(s.url + "/people")
            check(d.current_url.endswith("/login"), "after logging out the pages ask for a login again")

            print("== single sign-on through the org's OpenID Connect provider")
            with Provider() as idp:
                _, client = api(idp.issuer + "/oauth2/clients", "POST",
                                {"redirect_uris": [s.url + "/login/sso/callback"]})
                api(idp.issuer + "/users/ada-at-idp", "PUT",
                    {"email": s.admin_email, "email_verified": True, "name": "Ada Lovelace"})
                status, config = api(s.url + "/v1/sso", "PUT", {
                    "issuer": idp.issuer, "client_id": client["client_id"],
                    "client_secret": client["client_secret"]}, token=s.token)
                check(status == 200 and config["redirect_uri"] == s.url + "/login/sso/callback",
                      "an admin sets the provider through the API")
                d.get(s.url + "/login")
                d.find_element(By.ID, "org").send_keys("acme")
                submit(d, "#sso button")
                check(d.current_url.startswith(idp.issuer + "/oauth2/authorize"), "the browser is at the provider")
                d.find_element(By.NAME, "sub").send_keys("ada-at-idp")
                d.find_element(By.CSS_SELECTOR, "form button[type=submit]:not([name])").click()
                try:
                    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-door=front]")))
                    check(d.current_url.rstrip("/") == s.url, "back at the doors page, signed in")
                except Exception:
                    check(False, f"back at the doors page, signed in (at {d.current_url})")
                shot(d, "sso-signed-in")
                submit(d, "form.who button")
                wait.until(EC.url_contains("/login"))
        finally:
            d.quit()
    if failures:
        print(f"dashboard test: {len(failures)} check(s) FAILED")
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("dashboard test: passed")


if __name__ == "__main__":
    main()
