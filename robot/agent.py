"""The robot scheduler: poll the service for work, run the procedure, report — and survive crashes.

Every step is journaled before it is acted on. On start the agent first settles what the journal left open:
a measurement taken but not acknowledged is posted again with the same idempotency key (the service stores it
once); an experiment interrupted before its measurement finished is reported as a retryable failure, so it goes
back in the queue and is made afresh (the vial's contents after a crash are unknown). Network errors are retried
with backoff; a measurement is retried until the service takes it. SIGTERM stops after the current experiment;
SIGUSR1 is the emergency stop: pumps halt at once and the current experiment fails with that reason.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime

from pydantic import ValidationError

from model.contract import RECIPE_VERSION, Recipe
from robot.client import UNREACHABLE, ServiceClient, ServiceError
from robot.errors import RecipeError, RobotError, VesselsNotClean
from robot.journal import Journal
from robot.procedure import Procedure

log = logging.getLogger(__name__)


class EmergencyStop(RobotError):
    retryable = False


class CalibrationFailed(RobotError):
    """No cell constant could be had: the robot takes no work (a conductivity needs one)."""


STARTUP_MAX_BACKOFF_S = 30.0  # the longest wait between two tries for a service that is not up yet


class Agent:
    def __init__(self, client: ServiceClient, procedure: Procedure, journal: Journal, name: str = "clio",
                 poll_s: float = 1.0, max_experiments: int | None = None, idle_exit_s: float | None = None):
        self.client = client
        self.procedure = procedure
        self.journal = journal
        self.name = name
        self.poll_s = poll_s
        self.max_experiments = max_experiments
        self.idle_exit_s = idle_exit_s
        self.stopping = False
        self.done = 0
        self.cell_constant: float | None = None
        self.calibration_id: int | None = None
        self.stopped: str | None = None  # why the robot refused further work, when it did
        self.pending = False  # something journaled still has to reach the service
        # the vessels' state survives restarts: restored from the journal, every change journaled before acting on
        procedure.vessels.update(journal.vessels() or {})
        procedure.on_vessels = lambda states: journal.write("vessels", None, **states)

    # ------------------------------------------------------------------ signals
    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGUSR1, self._on_estop)

    def _on_term(self, *_):
        log.info("stop requested: finishing the current experiment, then exiting")
        self.stopping = True

    def _on_estop(self, *_):
        self.procedure.emergency_stop()
        self.stopping = True
        raise EmergencyStop("emergency stop: pumps halted by the operator")

    # ------------------------------------------------------------------ recovery
    def recover(self) -> None:
        for exp_id, st in sorted(self.journal.state().items()):
            last = st["last"]
            if last in ("posted", "failed", "abandoned"):
                continue
            try:
                token = st.get("lease_token", "")
                if last == "measured":
                    log.info(f"experiment {exp_id}: re-posting the journaled measurement (key {st['key']})")
                    self.client.result(exp_id, st["result"], st["key"], token)
                    self.journal.write("posted", exp_id)
                elif last == "failing":
                    self.client.fail(exp_id, st["reason"], st["retryable"], token, st.get("cause", "measurement"))
                    self.journal.write("failed", exp_id)
                else:  # claimed or started: interrupted before a measurement existed
                    reason = "robot restarted mid-experiment; the sample's state is unknown"
                    self.journal.write("failing", exp_id, reason=reason, retryable=True, cause="robot_restart")
                    self.client.fail(exp_id, reason, True, token, "robot_restart")
                    self.journal.write("failed", exp_id)
            except ServiceError as e:
                if e.status in (404, 409):
                    log.warning(f"experiment {exp_id}: the service no longer holds it for us ({e}); journal kept")
                    self.journal.write("abandoned", exp_id, detail=str(e))
                else:
                    raise

    # ------------------------------------------------------------------ calibration
    def ensure_calibration(self) -> None:
        lab = self.procedure.lab
        if lab.cell_constant_per_cm:
            self.cell_constant, self.calibration_id = lab.cell_constant_per_cm, None
            return
        cal = self.client.latest_calibration(lab.cell_id)
        if cal is None:
            log.info(f"no stored calibration for {lab.cell_id}: calibrating with the {lab.standard_mS_cm} mS/cm standard")
            k, kappa_std, r, temperature = self._calibrate()
            cal = self.client.post_calibration({"cell_id": lab.cell_id, "standard_conductivity_mS_cm": kappa_std,
                                                "measured_resistance_ohm": r, "temperature_K": temperature})
        self.cell_constant, self.calibration_id = cal["cell_constant_per_cm"], cal["id"]
        log.info(f"cell {lab.cell_id}: K = {self.cell_constant:.5f} 1/cm (calibration {self.calibration_id})")

    def _calibrate(self, attempts: int = 3) -> tuple[float, float, float, float]:
        """The calibration, tried again (on fresh lines) after a transient device fault; CalibrationFailed when it
        cannot be done, and the robot then stops taking work (no conductivity without a cell constant)."""
        for i in range(attempts):
            try:
                k, kappa_std, r = self.procedure.calibrate()
                return k, kappa_std, r, self.procedure.dev.thermometer()
            except RobotError as e:
                if not e.retryable or i == attempts - 1:
                    raise CalibrationFailed(f"the cell could not be calibrated: {type(e).__name__}: {e}") from e
                log.warning(f"calibration attempt {i + 1} failed ({type(e).__name__}: {e}); trying again")
                self.procedure.needs_reconnect = True
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ the loop
    def run(self) -> int:
        try:
            return self._loop()
        except EmergencyStop as e:  # pressed between experiments: nothing in flight to fail
            log.warning(str(e))
            return self.done
        except (VesselsNotClean, CalibrationFailed) as e:  # before any experiment was claimed
            self._stop(str(e))
            return self.done

    def report(self) -> None:
        """Tell the service what this robot holds and whether it works (a failure to tell is only logged)."""
        p = self.procedure
        try:
            stocks = [{"name": st.name, "solvent": st.solvent, "salt": st.salt, "molality": st.molality}
                      for st in p.lab.stocks]
            self.client.report_status(dict(p.vessels), self.stopped, {**p.lab.instrument_ids, **p.dev.instrument_ids},
                                      stocks)
        except ServiceError as e:
            log.warning(f"could not report the robot's status: {e}")

    def _stop(self, reason: str) -> None:
        self.stopped = reason
        self.stopping = True
        log.error(f"stopped taking work: {reason}")
        self.report()

    def wait_for_service(self) -> bool:
        """At start-up, wait until the service answers ready (a replica loads its model for ~30 s under load),
        trying again with capped backoff and logging each try, until it does or the agent is stopped. Returns
        whether it answered."""
        delay, tries, since = 1.0, 0, time.monotonic()
        while not self.stopping:
            tries += 1
            try:
                self.client.request("GET", "/readyz", attempts=1)
                if tries > 1:
                    log.info(f"the service answered after {tries} tries ({time.monotonic() - since:.0f} s)")
                return True
            except ServiceError as e:
                log.warning(f"waiting for the service (try {tries}, {time.monotonic() - since:.0f} s): {e}; "
                            f"next try in {delay:g} s")
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(min(0.2, delay))
            delay = min(2 * delay, STARTUP_MAX_BACKOFF_S)
        return False

    def _loop(self) -> int:
        if not self.wait_for_service():
            return self.done
        self.recover()
        self.report()
        self.ensure_calibration()
        idle_since = time.monotonic()
        while not self.stopping:
            if self.max_experiments is not None and self.done >= self.max_experiments:
                break
            try:
                self.procedure.make_clean()  # before taking work: a robot that cannot rinse takes none
            except VesselsNotClean as e:
                self._stop(str(e))
                break
            try:
                if self.pending:  # journaled results or failures the service could not take before
                    self.pending = False
                    self.recover()
                exp = self.client.claim()
            except ServiceError as e:
                if e.status != UNREACHABLE:
                    raise
                self.pending = True
                log.error(f"the service is unreachable ({e}); trying again in {self.poll_s:g} s")
                time.sleep(self.poll_s)
                continue
            if exp is None:
                if self.idle_exit_s is not None and time.monotonic() - idle_since > self.idle_exit_s:
                    log.info("queue empty: exiting")
                    break
                time.sleep(self.poll_s)
                continue
            self.process(exp)
            self.done += 1
            self.report()  # the vessels after this experiment's rinse
            idle_since = time.monotonic()
        return self.done

    def _heartbeat(self, exp: dict, stop: threading.Event) -> None:
        expires = datetime.fromisoformat(exp["lease_expires_at"])
        interval = max(0.2, (expires - datetime.now(UTC)).total_seconds() / 3)
        while not stop.wait(interval):
            try:
                self.client.heartbeat(exp["id"], exp["lease_token"])
            except ServiceError as e:
                log.warning(f"heartbeat for {exp['id']} failed: {e}")

    def process(self, exp: dict) -> None:
        exp_id = exp["id"]
        key = f"{self.name}-exp{exp_id}-attempt{exp['attempts']}"
        token = exp["lease_token"]
        self.journal.write("claimed", exp_id, attempt=exp["attempts"], key=key, lease_token=token,
                           recipe=exp["recipe"])
        try:
            recipe = Recipe.model_validate(exp["recipe"])
        except ValidationError as e:  # a service speaking another contract version: nothing can be made
            self._fail(exp_id, token, f"the recipe does not follow contract version {RECIPE_VERSION}: {e}", False)
            return
        log.info(f"experiment {exp_id} (attempt {exp['attempts']}): {recipe.fractions}")
        stop = threading.Event()
        hb = threading.Thread(target=self._heartbeat, args=(exp, stop), daemon=True)
        hb.start()
        try:
            self.journal.write("started", exp_id)
            m = self.procedure.run(recipe, self.cell_constant, self.calibration_id, exp.get("temperature_K"))
        except VesselsNotClean as e:  # not this experiment's fault: it goes back to the queue, the robot stops
            self._fail(exp_id, token, f"{type(e).__name__}: {e}", True, cause="robot_restart")
            self._stop(str(e))
            return
        except (RobotError, ValueError) as e:
            retryable = getattr(e, "retryable", False) and not isinstance(e, RecipeError)
            self._fail(exp_id, token, f"{type(e).__name__}: {e}", retryable)
            return
        finally:
            stop.set()
        body = m.result.model_dump(mode="json")
        self.journal.write("measured", exp_id, key=key, result=body, log=m.log)
        try:
            self.client.result(exp_id, body, key, token)
            self.journal.write("posted", exp_id)
            log.info(f"experiment {exp_id}: κ = {m.result.conductivity_mS_cm:.3f} mS/cm posted")
        except ServiceError as e:
            if e.status == UNREACHABLE:  # kept as "measured": posted again (same key) once the service answers
                self.pending = True
                log.error(f"experiment {exp_id}: the service is unreachable ({e}); the measurement stays in the "
                          "journal and is posted again when the service answers (the lease may expire meanwhile)")
            else:
                log.error(f"experiment {exp_id}: the service refused the result ({e}); it stays in the journal")
                self.journal.write("abandoned", exp_id, detail=str(e))

    def _fail(self, exp_id: int, token: str, reason: str, retryable: bool, cause: str = "measurement") -> None:
        log.warning(f"experiment {exp_id} failed ({'will retry' if retryable else 'final'}): {reason}")
        self.journal.write("failing", exp_id, reason=reason, retryable=retryable, cause=cause)
        try:
            self.client.fail(exp_id, reason, retryable, token, cause)
            self.journal.write("failed", exp_id)
        except ServiceError as e:
            if e.status == UNREACHABLE:  # kept as "failing": reported again once the service answers
                self.pending = True
                log.error(f"experiment {exp_id}: the service is unreachable ({e}); the failure is reported later")
            else:
                self.journal.write("abandoned", exp_id, detail=str(e))
