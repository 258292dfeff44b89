"""The dashboard (SPEC §11) in headless Chromium, driven by Selenium: `make ui-test`.

Run by scripts/ui-test.sh, which starts a private Redis and passes UI_REDIS_URL, TTP_BIN,
UI_KEY (the API key ttp is started with) and UI_SHOTS (where screenshots go). This script
starts ttp itself, so it can restart it. It checks, in order:

1. the page asks for the key, keeps it in sessionStorage only (no cookie) and goes live;
2. a queue's row appears when tasks are submitted, with thousands separators;
3. counts change live while tasks run (queued and running move, out/s shows work);
4. pause and resume from the queue's row (the API agrees);
4b. a read-only key limited to one queue sees only that queue, its Pause disabled;
5. a task looked up by id shows its state and payload;
6. a dead letter is listed and retried from the page (the API sees it queued again);
7. no console errors, the key in no URL, and at phone width the page does not overflow;
8. after ttp restarts, the stream reconnects by itself;
and the key never appears in ttp's log. Every wait is bounded.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TTP_BIN = os.environ["TTP_BIN"]
REDIS_URL = os.environ["UI_REDIS_URL"]
PORT = os.environ["UI_PORT"]
KEY = os.environ["UI_KEY"]
SHOTS = os.environ.get("UI_SHOTS", "target/ui")
BASE = f"http://127.0.0.1:{PORT}"
# A second key, from a keys file: `read` on the queue `reports` only. It begins with KEY,
# so the checks that KEY is in no URL and no log line cover it too.
READER = KEY + "-reader"
WAIT_S = 20
# The flags that keep Chromium from calling home or downloading anything.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--lang=en-US",
    "--window-size=1280,900",
]


def step(text):
    print(f"ui-test: {text}", file=sys.stderr, flush=True)


def api(method, path, body=None):
    """One API call with the key; the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {KEY}")
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def queue(name):
    listed = api("GET", "/queues?limit=1000")["queues"]
    return next(q for q in listed if q["name"] == name)


class Ttp:
    """`ttp serve` on PORT, its log in a file."""

    def __init__(self, work):
        self.log_path = os.path.join(work, "ttp.log")
        self.keys_path = os.path.join(work, "keys.toml")
        digest = hashlib.sha256(READER.encode()).hexdigest()
        with open(self.keys_path, "w") as keys:
            keys.write(f'[[key]]\nid = "viewer"\nsecret_sha256 = "{digest}"\n'
                       'scopes = ["read"]\nqueues = ["reports"]\n')
        self.process = None

    def start(self):
        env = dict(os.environ)
        env.update({
            "TTP_LISTEN": f"127.0.0.1:{PORT}",
            "TTP_REDIS_URL": REDIS_URL,
            "TTP_API_KEYS": KEY,
            "TTP_API_KEYS_FILE": self.keys_path,
            "TTP_LOG": env.get("TTP_LOG", "info"),
            "TTP_SHUTDOWN_GRACE_MS": "1000",
        })
        for name in ("TTP_BIN", "UI_REDIS_URL", "UI_PORT", "UI_KEY", "UI_SHOTS"):
            env.pop(name, None)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([TTP_BIN, "serve"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(BASE + "/readyz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("ttp did not become ready")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def until(driver, what, test, timeout=WAIT_S):
    """Waits for `test(driver)` to be truthy; its value."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(test, f"waiting for {what}")


def row_cell(driver, name, column):
    cells = driver.find_elements(By.CSS_SELECTOR, f'tr[data-queue="{name}"] td[data-col="{column}"]')
    return cells[0].text if cells else None


def number(text):
    return int(text.replace(",", "")) if text and text != "—" else 0


def shot(driver, name):
    path = os.path.join(SHOTS, f"{name}.png")
    driver.save_screenshot(path)
    step(f"screenshot {path}")


def console_errors(driver, allowed=()):
    entries = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return [e for e in entries if not any(a in e["message"] for a in allowed)]


def enter_key(driver, secret):
    until(driver, "the key form", lambda d: d.find_element(By.ID, "login").is_displayed())
    assert not driver.find_element(By.ID, "app").is_displayed()
    driver.find_element(By.ID, "login-key").send_keys(secret)
    driver.find_element(By.ID, "login-submit").click()


def log_in(driver):
    step("the page asks for the key and goes live")
    driver.get(BASE + "/ui")
    enter_key(driver, KEY)
    until(driver, "the live stream", lambda d: d.find_element(By.ID, "live").text == "live")
    assert driver.get_cookies() == [], driver.get_cookies()
    stored = driver.execute_script("return sessionStorage.getItem('ttp.key')")
    assert stored == KEY, "the key is kept in sessionStorage"
    until(driver, "the default queue's row", lambda d: row_cell(d, "default", "queued") == "0")


def queue_row_appears(driver):
    step("a queue's row appears with thousands separators")
    for size in (1000, 234):
        api("POST", "/tasks/batch", {"tasks": [{"kind": "noop", "queue": "reports"}] * size})
    until(driver, "1,234 queued in reports", lambda d: row_cell(d, "reports", "queued") == "1,234")


def counts_change_live(driver):
    step("counts change live while tasks run")
    ids = [api("POST", "/tasks", {"kind": "sleep", "payload": {"ms": 250}})["id"] for _ in range(40)]
    seen_queued, seen_running, seen_out = set(), set(), 0.0
    overview = os.path.join(SHOTS, "overview.png")
    if os.path.exists(overview):
        os.remove(overview)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        queued = number(row_cell(driver, "default", "queued"))
        running = number(row_cell(driver, "default", "running"))
        out = row_cell(driver, "default", "out_per_s") or "—"
        seen_queued.add(queued)
        seen_running.add(running)
        seen_out = max(seen_out, float(out.replace(",", "")) if out != "—" else 0.0)
        if len(seen_queued) > 2 and queued == 0 and running == 0 and seen_out > 0:
            break
        if len(seen_queued) == 2 and not os.path.exists(overview):
            shot(driver, "overview")
        time.sleep(0.2)
    else:
        raise AssertionError(f"counts did not move: queued {seen_queued}, running {seen_running}, out/s {seen_out}")
    assert max(seen_running) > 0, seen_running
    step(f"saw queued {sorted(seen_queued)[-3:]}…, running up to {max(seen_running)}, out/s up to {seen_out}")
    return ids


def pause_and_resume(driver):
    step("pause and resume a queue from its row")
    button = driver.find_element(By.CSS_SELECTOR, 'tr[data-queue="reports"] td.actions button')
    assert button.text == "Pause"
    button.click()
    until(driver, "reports paused", lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-queue="reports"] .state').text == "paused")
    assert queue("reports")["paused"] is True
    until(driver, "the Resume button", lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-queue="reports"] td.actions button').text == "Resume")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-queue="reports"] td.actions button').click()
    until(driver, "reports active", lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-queue="reports"] .state').text == "active")
    assert queue("reports")["paused"] is False


def a_reader_sees_only_its_queue(driver):
    step("a read-only key sees only its queue, and no admin button works for it")
    driver.find_element(By.ID, "forget").click()
    enter_key(driver, READER)
    until(driver, "the reader's key", lambda d: d.find_element(By.ID, "viewer").text == "key viewer · read")
    rows = "#queues tbody tr"
    until(driver, "only reports", lambda d: [r.get_attribute("data-queue") for r in d.find_elements(By.CSS_SELECTOR, rows)] == ["reports"])
    button = driver.find_element(By.CSS_SELECTOR, 'tr[data-queue="reports"] td.actions button')
    assert not button.is_enabled() and "admin" in button.get_attribute("title"), button.get_attribute("title")
    driver.find_element(By.ID, "forget").click()
    log_in(driver)


def look_up_task(driver, task_id):
    step("look a task up by id")
    driver.find_element(By.CSS_SELECTOR, 'a[data-tab="task"]').click()
    field = until(driver, "the id field", lambda d: d.find_element(By.ID, "task-id"))
    field.clear()
    field.send_keys(task_id)
    driver.find_element(By.CSS_SELECTOR, ".lookup-form button").click()
    until(driver, "the task", lambda d: d.find_element(By.ID, "task-title").text == task_id)
    body = driver.find_element(By.ID, "task-body").text
    assert "succeeded" in body and '"ms": 250' in body, body
    shot(driver, "task")


def retry_dead_letter(driver):
    step("retry a dead letter from the page")
    dead = api("POST", "/tasks", {"kind": "fail", "payload": {"retryable": False}, "max_attempts": 1})["id"]
    deadline = time.monotonic() + WAIT_S
    while api("GET", f"/tasks/{dead}")["state"] != "failed":
        assert time.monotonic() < deadline, "the task did not fail"
        time.sleep(0.1)
    # Paused, so the retried task stays queued where the API can see it.
    api("POST", "/queues/default/pause")
    driver.get(BASE + "/ui#/dead/default")
    until(driver, "the dead letter", lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-task="{dead}"]'))
    shot(driver, "dead-letters")
    driver.find_element(By.CSS_SELECTOR, f'tr[data-task="{dead}"] button').click()
    until(driver, "the toast", lambda d: "1 of 1 sent back to default" in d.find_element(By.ID, "toast").text)
    assert api("GET", f"/tasks/{dead}")["state"] == "queued"
    until(driver, "an empty dead-letter list", lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-task="{dead}"]'))
    api("POST", "/queues/default/resume")


def schedules_tab(driver):
    step("the Schedules tab lists a schedule; run it now and pause it from its row")
    api("PUT", "/schedules/ui-every-minute",
        {"every_ms": 60000, "task": {"kind": "noop", "queue": "default"}})
    tab = driver.find_element(By.CSS_SELECTOR, 'a[data-tab="schedules"]')
    assert tab.is_displayed(), "the Schedules tab is hidden although the API has /schedules"
    tab.click()
    row = 'tr[data-schedule="ui-every-minute"]'
    until(driver, "the schedule's row", lambda d: d.find_elements(By.CSS_SELECTOR, row))
    text = driver.find_element(By.CSS_SELECTOR, row).text
    assert "every" in text and "active" in text, text
    buttons = driver.find_elements(By.CSS_SELECTOR, f"{row} td.actions button")
    assert [b.text for b in buttons] == ["Pause", "Run now"], [b.text for b in buttons]
    buttons[1].click()
    until(driver, "the run's toast", lambda d: "enqueued" in d.find_element(By.ID, "toast").text)
    ran = api("GET", "/schedules/ui-every-minute")["recent_runs"]
    assert ran and ran[0]["task_id"], ran
    # The list is drawn again after each action: read the row afresh each time.
    row_text = f"return document.querySelector('{row}')?.innerText || ''"
    until(driver, "the list drawn again", lambda d: "Pause" in d.execute_script(row_text))
    driver.execute_script(f"document.querySelector('{row} td.actions button').click()")
    until(driver, "the schedule paused", lambda d: "paused" in d.execute_script(row_text))
    assert api("GET", "/schedules/ui-every-minute")["state"] == "paused"
    shot(driver, "schedules")
    api("DELETE", "/schedules/ui-every-minute")


def clean_and_narrow(driver):
    step("no console errors, the key in no URL, no overflow at phone width")
    errors = console_errors(driver)
    assert not errors, errors
    urls = driver.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]")
    assert not [u for u in urls if KEY in u], urls
    driver.set_window_size(390, 844)
    driver.get(BASE + "/ui#/")
    until(driver, "the live stream", lambda d: d.find_element(By.ID, "live").text == "live")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than a phone"
    shot(driver, "overview-phone")
    driver.set_window_size(1280, 900)


def reconnects_after_restart(driver, ttp):
    step("the stream reconnects by itself after ttp restarts")
    driver.get(BASE + "/ui#/")
    until(driver, "the live stream", lambda d: d.find_element(By.ID, "live").text == "live")
    ttp.stop()
    until(driver, "the lost stream", lambda d: d.find_element(By.ID, "live").text != "live")
    ttp.start()
    until(driver, "the stream again", lambda d: d.find_element(By.ID, "live").text == "live")
    # Only the refused connections while ttp was down.
    errors = console_errors(driver, allowed=("ERR_CONNECTION_REFUSED", "ERR_EMPTY_RESPONSE"))
    assert not errors, errors


def main():
    os.makedirs(SHOTS, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ttp-ui-")
    ttp = Ttp(work)
    driver = None
    started = time.monotonic()
    try:
        ttp.start()
        driver = browser(os.path.join(work, "profile"))
        log_in(driver)
        queue_row_appears(driver)
        ids = counts_change_live(driver)
        pause_and_resume(driver)
        a_reader_sees_only_its_queue(driver)
        look_up_task(driver, ids[0])
        retry_dead_letter(driver)
        schedules_tab(driver)
        clean_and_narrow(driver)
        reconnects_after_restart(driver, ttp)
    except Exception:
        if driver:
            shot(driver, "failure")
        with open(ttp.log_path, "rb") as log:
            tail = log.read().decode(errors="replace").splitlines()[-40:]
        step("ttp log (last 40 lines):\n" + "\n".join(tail))
        raise
    finally:
        if driver:
            driver.quit()
        ttp.stop()
        with open(ttp.log_path, "rb") as log:
            text = log.read()
        shutil.rmtree(work, ignore_errors=True)
    assert KEY.encode() not in text, "an API key appears in ttp's log"
    step(f"all checks passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
