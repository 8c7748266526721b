"""The operator's console in a real browser: Playwright driving Debian's headless Chromium against the service
under uvicorn, with a simulated robot filling the campaign page while the test watches.

Set DIFFMIX_CONSOLE_SCREENSHOTS=docs/console to refresh the README's screenshots from this run.
"""

import csv
import io
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import LiveService
from tests.robot.test_agent import make_agent

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = os.environ.get("DIFFMIX_CONSOLE_SCREENSHOTS")

if CHROMIUM is None:  # CI installs it (.ci/run); a developer's machine needs it too: the console is tested for real
    pytest.fail("the console tests need Chromium: apt-get install chromium", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def service(tmp_path, tiny_models_dir):
    from db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    if SHOTS:  # the README's pictures show the shipped model, not the tests' tiny one
        svc = LiveService(url, None, lease_seconds=30, max_attempts=2)
    else:
        svc = LiveService(url, tiny_models_dir, lease_seconds=30, max_attempts=2, domain_min_rows=5)
    yield svc
    svc.stop()


class Watched:
    """A page whose every request is recorded, so a test can assert that none left the service."""

    def __init__(self, browser, base, shots):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        self.page = self.context.new_page()
        self.hosts, self.errors = set(), []
        self.page.on("request", lambda r: self.hosts.add(urlparse(r.url).netloc) if r.url.startswith("http") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base, self.shots = base, shots

    def sign_in(self, key, then="/"):
        p = self.page
        p.goto(self.base + then)
        p.wait_for_url("**/signin**")
        p.fill("#key", key)
        p.click("button[type=submit]")
        p.wait_for_url(lambda u: "/signin" not in u)
        p.wait_for_selector("body[data-ready=true]")

    def shot(self, name):
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(SHOTS) / path.name)

    def close(self):
        self.context.close()


def test_an_operator_runs_a_campaign_from_the_browser_and_downloads_its_results(browser, service, tmp_path):
    w = Watched(browser, service.url, tmp_path)
    p = w.page
    w.sign_in(service.keys["operator"])
    assert p.is_visible("text=New campaign") and not p.is_visible("nav >> text=Keys")  # an operator has no key admin
    assert p.is_visible("#campaigns-empty")

    # create a campaign through the form, by names: LiPF6 in EC / DMC / EMC, salt as a molality range, °C
    p.click("a.button:has-text('New campaign')")
    p.wait_for_selector("#solvents tbody tr")
    p.fill("input[name=name]", "LiPF6 in EC/DMC/EMC, browser")
    p.fill("input[name=salt]", "LiPF6")
    p.dispatch_event("input[name=salt]", "change")
    p.wait_for_selector("#salt-structure[src*=LiPF6]")
    p.locator("#salt-structure").evaluate("img => img.decode()")  # the RDKit drawing loaded (rejects if it did not)
    assert p.locator("#salt-structure").evaluate("img => img.naturalWidth") > 0
    p.select_option("select[name=salt_mode]", "salt_molality_range")
    p.fill("input[name=salt_lo]", "0.6")
    p.fill("input[name=salt_hi]", "1.4")
    p.fill("input[name=temperature]", "25")
    assert "298.15 K" in p.inner_text("#temperature-both")
    p.fill("input[name=budget]", "3")
    w.shot("campaign-new")
    p.click("button:has-text('Create campaign')")
    p.wait_for_url(re.compile(r"/campaigns/\d+$"))
    p.wait_for_selector("body[data-ready=true]")
    cid = int(p.url.rsplit("/", 1)[1])
    c = service.call("GET", f"/v1/campaigns/{cid}").json()
    assert c["space"]["salt_molality_range"] == [0.6, 1.4] and c["space"]["bounds_basis"] == "mass"
    assert c["temperature_K"] == pytest.approx(298.15) and c["budget"] == 3

    # propose from the page, then let a simulated robot work while the page updates by itself
    p.fill("#propose-n", "3")
    p.click("#propose")
    p.wait_for_selector("#queue tbody tr[data-status=queued]")
    assert p.locator("#queue tbody tr").count() == 3
    # each experiment as a chemist writes it: a molality, the salt and the blend by name (a binary edge or one
    # solvent alone is as good a proposal as a ternary), then mol/kg and mol/L
    queue = p.inner_text("#queue tbody")
    made = re.findall(r"\d\.\d\d m LiPF6 in ((?:EC|DMC|EMC)(?::(?:EC|DMC|EMC))*)(?: [\d:]+ \(w/w\))?", queue)
    assert len(made) == 3 and "mol/L" in queue and "mol/kg" in queue, queue
    # which source of the learning portfolio chose each (a first batch: DiffMix's best, then far from it)
    assert queue.count("exploit") == 2 and queue.count("space-filling") == 1, queue
    agent, rig = make_agent(service, tmp_path, idle_exit_s=2.0)
    robot = threading.Thread(target=agent.run, daemon=True)
    robot.start()
    try:
        p.wait_for_selector("body[data-measured='3']", timeout=120_000)  # filled live, no reload
    finally:
        robot.join(60)
        rig.close()
    assert p.locator("#queue tbody tr[data-status=measured]").count() == 3
    p.wait_for_selector("#campaign-status:has-text('completed')")
    assert "MAE" in p.inner_text("#parity-plot") and "bias" in p.inner_text("#parity-plot")
    # the evidence in words, and the model table's measured count per batch (the API's field is `measured`)
    assert "DiffMix" in p.inner_text("#evidence")
    assert p.inner_text("#diagnostics tbody tr td:nth-child(2)") == "3"
    assert p.locator("#landscape-plot .ternarylayer").count() == 1  # a Plotly ternary, not a picture
    w.shot("campaign")

    # the list: status, budget used, best measured
    p.click("nav >> text=Campaigns")
    p.wait_for_selector(f"#campaigns tr[data-id='{cid}']")
    row = p.inner_text(f"#campaigns tr[data-id='{cid}']")
    assert "completed" in row and "3 / 3 (3 measured)" in row and "mS/cm" in row
    w.shot("campaigns")

    # the lab: the robot, its declared stocks, the calibration it made
    p.click("nav >> text=Lab")
    p.wait_for_selector("body[data-ready=true]")
    assert "LiPF6 2.5 m in EC" in p.inner_text("#stocks") and "sim-cell-1" in p.inner_text("#calibrations")
    assert f"#{cid}" not in p.inner_text("#robots")  # a completed campaign is no longer one it "can make"
    w.shot("lab")

    # results: names and lab units, filters, and the CSV
    p.click("nav >> text=Results")
    p.wait_for_selector("#results tbody tr")
    assert p.locator("#results tbody tr").count() == 3
    p.fill("#f-tmin", "90")
    assert p.locator("#results tbody tr").count() == 0
    p.fill("#f-tmin", "")
    w.shot("results")
    with p.expect_download() as dl:
        p.click("#download-csv")
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
    head, smiles, data = rows[0], rows[1], rows[2:]
    assert len(data) == 3 and "EC mass fraction" in head and "LiPF6 molality (mol/kg)" in head
    assert smiles[head.index("EC mass fraction")] == "O=C1OCCO1"
    for r in data:
        row = dict(zip(head, r))
        # what the balance says was made: within a few per cent of the campaign's 0.6–1.4 mol/kg
        assert 0.6 * 0.97 <= float(row["LiPF6 molality (mol/kg)"]) <= 1.4 * 1.03
        assert sum(float(row[f"{n} mass fraction"]) for n in ("EC", "DMC", "EMC")) == pytest.approx(1, abs=1e-3)
        assert float(row["measured"]) > 0 and float(row["temperature_C"]) == pytest.approx(25, abs=1)

    # the API docs work offline too
    p.goto(service.url + "/docs")
    p.wait_for_selector(".swagger-ui .information-container", timeout=30_000)
    p.goto(service.url + "/redoc")
    p.wait_for_selector("redoc [role=search], redoc h1", timeout=30_000)
    host = urlparse(service.url).netloc
    assert w.hosts == {host}, f"the console asked other hosts: {w.hosts - {host}}"
    assert not w.errors, w.errors
    w.close()


def test_a_campaign_the_lab_cannot_make_is_refused_with_the_liquid_named(browser, service, tmp_path):
    service.call("PUT", "/v1/robot/status", "robot", json={"vessels": {}, "stocks": [
        {"name": "EC", "solvent": {"O=C1OCCO1": 1.0}}, {"name": "DMC", "solvent": {"COC(=O)OC": 1.0}},
        {"name": "LiPF6 in EC", "solvent": {"O=C1OCCO1": 1.0}, "salt": "[Li+].F[P-](F)(F)(F)(F)F", "molality": 2.0}]})
    w = Watched(browser, service.url, tmp_path)
    p = w.page
    w.sign_in(service.keys["operator"], "/campaigns/new")
    p.fill("input[name=name]", "needs EMC")
    p.fill("input[name=salt]", "LiPF6")
    p.click("button:has-text('Create campaign')")
    p.wait_for_selector("#error:not([hidden])")
    assert "EMC (CCOC(=O)OC)" in p.inner_text("#error") and "no stock with" in p.inner_text("#error")
    assert service.call("GET", "/v1/campaigns").json() == []
    w.close()


def test_roles_decide_what_the_console_shows_and_an_admin_manages_keys(browser, service, tmp_path):
    w = Watched(browser, service.url, tmp_path)
    p = w.page
    w.sign_in(service.keys["analyst"])
    assert not p.is_visible("nav >> text=New campaign") and p.is_visible("nav >> text=Results")
    assert not p.is_visible("nav >> text=Keys")
    p.goto(service.url + "/admin")
    p.wait_for_selector("#error:not([hidden])")
    assert "may not" in p.inner_text("#error")
    p.wait_for_selector("body[data-ready=true]")
    assert not p.is_visible("#key-form")  # no create-key form under the 403
    # a campaign that does not exist: said so, nothing to press, and the live dot does not stay green
    p.goto(service.url + "/campaigns/999")
    p.wait_for_selector("body[data-ready=true]")
    assert "not found" in p.inner_text("#error") and p.get_attribute("body", "data-closed") == "not found"
    assert p.locator("#propose").is_disabled() and "stale" in p.get_attribute("#live", "class")
    w.close()

    w = Watched(browser, service.url, tmp_path)
    p = w.page
    w.sign_in(service.keys["admin"], "/admin")
    p.wait_for_selector("#keys tbody tr")
    n = p.locator("#keys tbody tr").count()
    p.select_option("select[name=role]", "robot")
    p.fill("input[name=name]", "clio-2")
    p.click("button:has-text('Create key')")
    p.wait_for_selector("#new-key:not([hidden])")
    p.wait_for_selector("#keys tbody tr:has-text('clio-2')")
    new_key = p.inner_text("#new-key-value")
    assert new_key.startswith("dmx_") and p.locator("#keys tbody tr").count() == n + 1
    w.shot("admin")
    assert service.http.get("/v1/whoami", headers={"Authorization": f"Bearer {new_key}"}).json()["role"] == "robot"
    p.on("dialog", lambda d: d.accept())
    p.click("#keys tbody tr:has-text('clio-2') button:has-text('revoke')")
    p.wait_for_selector("#keys tbody tr:has-text('clio-2') >> text=revoke", state="detached")
    assert service.http.get("/v1/whoami", headers={"Authorization": f"Bearer {new_key}"}).status_code == 401
    assert p.context.storage_state()["cookies"] == []  # the key lives in sessionStorage, not in a cookie
    assert new_key not in p.url
    w.close()


def test_a_wrong_key_is_refused_at_sign_in(browser, service, tmp_path):
    w = Watched(browser, service.url, tmp_path)
    p = w.page
    p.goto(service.url + "/signin")
    p.fill("#key", "dmx_not-a-key")
    p.click("button[type=submit]")
    p.wait_for_selector("#error:not([hidden])")
    assert "unknown or revoked" in p.inner_text("#error") and "/signin" in p.url
    w.close()


def test_the_campaign_page_says_when_the_service_is_down_and_recovers_by_itself(browser, service, tmp_path,
                                                                                tiny_models_dir):
    """The service stops while a campaign page is open: a banner says since when it is unreachable, the actions are
    off, and the page keeps trying (with a growing wait); when the service is back, all of it is undone."""
    cid = service.call("POST", "/v1/campaigns", json={"name": "offline", "space": {
        "salt": "LiPF6", "solvents": ["EC", "DMC"], "salt_molality": 1.0}, "temperature_K": 298.15, "budget": 4}).json()["id"]
    w = Watched(browser, service.url, tmp_path)
    p = w.page
    w.sign_in(service.keys["operator"], f"/campaigns/{cid}")
    assert p.locator("#propose").is_enabled()
    db, port, keys = service.settings.database_url, service.port, service.keys
    service.stop()
    p.wait_for_selector("#offline:not([hidden])", timeout=20_000)
    assert "The service is unreachable since" in p.inner_text("#offline")
    assert p.locator("#propose").is_disabled() and p.inner_text("#live") == "offline"
    again = LiveService(db, tiny_models_dir, _port=port, _keys=keys, lease_seconds=30, max_attempts=2, domain_min_rows=5)
    try:
        p.wait_for_selector("#offline[hidden]", state="attached", timeout=40_000)
        assert p.locator("#propose").is_enabled() and p.inner_text("#live") == "live"
    finally:
        again.stop()
        w.close()
