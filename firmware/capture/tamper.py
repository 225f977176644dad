"""Camera tamper detection on the lores luma plane (issue 12 item 5).

The recorder already scales every frame to the lores luma plane for motion; the detector looks
at that plane (no second conversion), and only about twice a second (`every_seconds`), on a
copy scaled down to about 120 lines (`work`) and to 40x30 (`view`). Five conditions:

- dark: the picture is black (a hand, a cap, tape over the lens): low mean and low spread;
- uniform: one flat colour (sprayed over, blinded by a lamp): low spread at any brightness, or
  most of the picture saturated;
- frozen: the lores plane repeats exactly. A real sensor has noise, so even a still scene never
  repeats to the last bit; a camera or driver that hangs on one buffer does;
- defocused: the edge energy (mean Laplacian magnitude over mean luma, so the brightness does
  not count) fell below `edge_ratio` of a slowly learned reference: out of focus, smeared. A
  blur keeps the mean luma; when the mean moves by more than `light_change`, it is the light
  (sensor noise weighs more in a dark picture) and the edge reference is learnt again, fast;
- turned: the structure of the whole view differs from a slowly learned reference view. The
  comparison is a zero-mean normalised correlation per block of the 40x30 view: a light change
  scales and shifts the luma of a block but keeps its edges in place, so the block still
  matches; a camera turned away matches in almost no block.

Each condition must hold for its `hold` time before it is raised, and be absent for `clear_seconds`
before it is cleared, so a passing lorry or headlights raise nothing. The references learn only
while nothing is suspected, so a covered or turned camera is never learnt as the normal view.
A restart learns the references from the picture it finds (docs/recording.md, Camera tamper).

`TamperWatch` keeps the detector's alarms in the store's index (`camera-tamper:<camera>:<
condition>`), where the system page, /readyz and /metrics see them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from firmware.capture.tamper_kinds import CONDITIONS, alarm_kind, parse_alarm_kind

log = logging.getLogger(__name__)

SATURATED = 235                  # luma at or above which a pixel is blown out (video range)
# Conditions judged against references learnt from the picture itself (see TamperWatch).
VIEW_LEARNT = ("defocused", "turned")


@dataclass(frozen=True)
class TamperSettings:
    """Thresholds and times of the detector (docs/recording.md, Camera tamper)."""

    every_seconds: float = 0.5        # one look per this many seconds of frames
    dark_level: float = 30.0          # dark: mean luma below this ...
    dark_spread: float = 8.0          # ... and standard deviation below this
    uniform_spread: float = 6.0       # uniform: standard deviation below this
    saturated_fraction: float = 0.75  # uniform too: this share of the picture blown out
    edge_ratio: float = 0.35          # defocused: edge energy below this share of the reference
    light_change: float = 0.25        # ... unless the mean luma moved this much: light, relearn
    block_match: float = 0.5          # turned: a block matches at this correlation or more ...
    view_match: float = 0.35          # ... and fewer than this share of the blocks match
    block_texture: float = 3.0        # blocks flatter than this (luma std) are not compared
    warmup_seconds: float = 2.0       # the first references, learnt fast
    edge_seconds: float = 120.0       # time constant of the edge reference
    view_seconds: float = 30.0        # time constant of the reference view
    anchor_seconds: float = 3600.0    # time constant of the anchor view: a slow turn
    hold: dict[str, float] = field(default_factory=lambda: {
        "dark": 5.0, "uniform": 5.0, "frozen": 10.0, "defocused": 10.0, "turned": 10.0})
    clear_seconds: float = 5.0


@dataclass(frozen=True)
class Change:
    """A condition raised (`raised`) or cleared, with what was measured (English, for the log)."""

    condition: str
    raised: bool
    detail: str


class _Condition:
    """Hold before raising, clear time before clearing."""

    __slots__ = ("hold", "clear", "active", "latched", "_since", "_absent_since")

    def __init__(self, hold: float, clear: float, active: bool = False, latched: bool = False):
        self.hold, self.clear, self.active = hold, clear, active
        self.latched = latched and active         # raised, and the picture cannot clear it
        self._since: float | None = None
        self._absent_since: float | None = None

    def shift(self, delta: float) -> None:
        if self._since is not None:
            self._since += delta
        if self._absent_since is not None:
            self._absent_since += delta

    def update(self, present: bool, t: float) -> bool | None:
        """True when it is raised now, False when cleared now, None when nothing changes."""
        if present:
            self._absent_since = None
            if self._since is None:
                self._since = t
            if not self.active and t - self._since >= self.hold:
                self.active = True
                return True
            return None
        self._since = None
        if self._absent_since is None:
            self._absent_since = t
        if self.active and not self.latched and t - self._absent_since >= self.clear:
            self.active = False
            return False
        return None


class TamperDetector:
    """Looks at lores luma frames of one size and reports tamper conditions as they change.

    `active`: conditions raised before (alarms found in the index at start); each is cleared
    when the picture shows it absent for the clear time, except those in `latched`, which
    stay raised for this detector's life.
    """

    def __init__(self, width: int, height: int, settings: TamperSettings | None = None,
                 active: Iterable[str] = (), latched: Iterable[str] = ()):
        s = self.settings = settings or TamperSettings()
        scale = min(1.0, 120 / height)
        self.work_size = (max(40, round(width * scale)) & ~1, max(30, round(height * scale)) & ~1)
        self._work = np.empty(self.work_size[::-1], np.uint8)
        self._view = np.empty((30, 40), np.uint8)
        self._lap = np.empty(self._work.shape, np.int16)
        self._last = np.empty((height, width), np.uint8)
        self._have_last = False
        self._frozen_since: float | None = None
        self._next = self._looked = -np.inf
        self._edge_ref = self._ref_mean = 0.0     # edge energy and mean luma learnt with it
        self._view_ref: np.ndarray | None = None
        self._anchor: np.ndarray | None = None      # the view learnt over an hour
        self._learnt = 0.0                # seconds of picture in the references so far
        already, kept = set(active), set(latched)
        self.conditions = {c: _Condition(s.hold[c], s.clear_seconds, c in already, c in kept)
                           for c in CONDITIONS}
        self.measured: dict[str, float] = {}

    def feed(self, luma: np.ndarray, t: float) -> list[Change]:
        """One lores luma frame at time `t` (seconds); most frames return at once."""
        every = self.settings.every_seconds
        if t < self._next:
            if t > self._next - 2 * every:
                return []
            self._shift(t - self._next + every)     # the clock was set back: go on from t
        elif self._next > -np.inf and t > self._next + 10 * every:
            self._shift(t - self._next)             # set forward, or no frames for a while:
        self._next = t + every                      # a hold counts only time with frames
        self._looked = t
        present = self._look(luma, t)
        changes = []
        for name, cond in self.conditions.items():
            done = cond.update(name in present, t)
            if done is not None:
                changes.append(Change(name, done, self._describe(name)))
        return changes

    def _shift(self, delta: float) -> None:
        """Move every remembered time by `delta` seconds (the frames' clock jumped)."""
        if self._frozen_since is not None:
            self._frozen_since += delta
        for cond in self.conditions.values():
            cond.shift(delta)

    @property
    def active(self) -> list[str]:
        return [c for c, cond in self.conditions.items() if cond.active]

    def _look(self, luma: np.ndarray, t: float) -> set[str]:
        s, m = self.settings, self.measured
        present: set[str] = set()
        if self._have_last and cv2.norm(luma, self._last, cv2.NORM_INF) == 0:
            if self._frozen_since is None:
                self._frozen_since = t
            present.add("frozen")
        else:
            self._frozen_since = None
        np.copyto(self._last, luma)
        self._have_last = True

        work = cv2.resize(luma, self.work_size, dst=self._work, interpolation=cv2.INTER_AREA)
        mean, std = (float(v[0][0]) for v in cv2.meanStdDev(work))
        m["mean"], m["spread"] = mean, std
        # A flat picture repeats exactly without any fault: it is named dark or uniform.
        if mean < s.dark_level and std < s.dark_spread:
            return {"dark"}
        m["saturated"] = cv2.countNonZero(cv2.compare(work, SATURATED, cv2.CMP_GE)) / work.size
        if std < s.uniform_spread or m["saturated"] >= s.saturated_fraction:
            return {"uniform"}

        # The Laplacian keeps the finest detail, the first thing a defocus takes away: a blur
        # of 6 pixels leaves 5-8 % of it on the shared clips, against 63-80 % for the
        # variation of the sharp clips themselves (a Sobel gradient kept 25-55 %).
        lap = cv2.Laplacian(work, cv2.CV_16S, dst=self._lap)
        edge = cv2.norm(lap, cv2.NORM_L1) / work.size / (mean + 10)
        view = cv2.resize(work, (40, 30), dst=self._view, interpolation=cv2.INTER_AREA)
        m["edge"] = edge
        if self._learnt < s.warmup_seconds:          # first references: learnt fast
            self._learn(mean, edge, view, 0.5, 0.5, 0.5)
            self._learnt += s.every_seconds
            return present
        if abs(mean - self._ref_mean) > s.light_change * self._ref_mean:
            # A light change, not a defocus (a blur keeps the mean): at another brightness the
            # sensor noise weighs otherwise in the edge energy, so its reference is learnt
            # again, fast.
            self._edge_ref += (edge - self._edge_ref) * 0.5
            self._ref_mean += (mean - self._ref_mean) * 0.5
            m["edge_ratio"] = 1.0
        else:
            m["edge_ratio"] = edge / self._edge_ref if self._edge_ref > 0 else 1.0
        if m["edge_ratio"] < s.edge_ratio:
            present.add("defocused")
            return present
        m["view_match"] = min(self._view_match(view, self._view_ref),
                              self._view_match(view, self._anchor, both=True))
        if m["view_match"] < s.view_match:
            present.add("turned")
            return present
        if "frozen" not in present:
            self._learn(mean, edge, view, s.every_seconds / s.edge_seconds,
                        s.every_seconds / s.view_seconds, s.every_seconds / s.anchor_seconds)
        return present

    def _learn(self, mean: float, edge: float, view: np.ndarray, edge_rate: float,
               view_rate: float, anchor_rate: float) -> None:
        if self._view_ref is None:
            self._ref_mean, self._edge_ref = mean, edge
            self._view_ref = view.astype(np.float32)
            self._anchor = view.astype(np.float32)
            return
        self._ref_mean += (mean - self._ref_mean) * edge_rate
        self._edge_ref += (edge - self._edge_ref) * edge_rate
        cv2.accumulateWeighted(view, self._view_ref, view_rate)
        cv2.accumulateWeighted(view, self._anchor, anchor_rate)

    def _view_match(self, view: np.ndarray, ref: np.ndarray, both: bool = False) -> float:
        """Share of the textured blocks (5x5 of the 40x30 view) that still correlate with
        `ref`; with `both`, only blocks textured in the view too count (the anchor, learnt in
        other light: a block gone flat at dusk is no sign of a turn). Block means by an exact
        5x5 area average: a few OpenCV calls, no Python loop."""
        cur = view.astype(np.float32)

        def means(a: np.ndarray) -> np.ndarray:
            return cv2.resize(a, (8, 6), interpolation=cv2.INTER_AREA)

        mc, mr = means(cur), means(ref)
        var_c = means(cv2.multiply(cur, cur)) - mc * mc
        var_r = means(cv2.multiply(ref, ref)) - mr * mr
        cov = means(cv2.multiply(cur, ref)) - mc * mr
        textured = var_r > self.settings.block_texture ** 2
        if both:
            textured &= var_c > self.settings.block_texture ** 2
        count = int(np.count_nonzero(textured))
        if count < 6:
            return 1.0                    # too flat a reference to judge by
        corr = cov / np.sqrt(np.maximum(var_c, 1e-6) * np.maximum(var_r, 1e-6))
        return int(np.count_nonzero((corr >= self.settings.block_match) & textured)) / count

    def _describe(self, condition: str) -> str:
        m = self.measured
        texts = {
            "dark": "the picture is dark (mean luma {mean:.0f}, spread {spread:.1f}): the lens "
                    "may be covered",
            "uniform": "the picture is one flat colour (spread {spread:.1f}, {sat:.0%} blown "
                       "out): blinded by a light or sprayed over",
            "frozen": "the picture has not changed at all for {frozen:.0f} s: the camera "
                      "delivers a frozen picture",
            "defocused": "the picture lost its sharpness (edges at {ratio:.0%} of the learnt "
                         "view): out of focus or the lens smeared",
            "turned": "the whole view changed and stays changed ({match:.0%} of it matches the "
                      "learnt view): the camera may be turned away; a restart of the recorder "
                      "accepts the new view",
        }
        frozen = 0.0 if self._frozen_since is None else self._looked - self._frozen_since
        return texts[condition].format(
            mean=m.get("mean", 0.0), spread=m.get("spread", 0.0), sat=m.get("saturated", 0.0),
            frozen=frozen, ratio=m.get("edge_ratio", 0.0), match=m.get("view_match", 0.0))


class AlarmStore(Protocol):
    """What the watch needs of the store (firmware.storage.store.Store)."""

    def raise_alarm(self, kind: str, detail: str) -> None: ...
    def clear_alarm(self, kind: str) -> None: ...
    def alarms(self) -> list[dict]: ...


class TamperWatch:
    """A camera's detector with its alarms kept in the index: `feed` it each lores frame.

    Alarms of this camera found in the index at start stay raised until the picture shows
    their condition absent for the clear time (a restart loses nothing unseen). After an
    unclean end of the recorder before (`unclean_start`: a power cut, a crash, the watchdog),
    the alarms judged against views learnt from the picture (VIEW_LEARNT: turned, defocused)
    stay raised until a deliberate restart: the views are learnt again from the picture found,
    which is the turned or smeared one, so the picture cannot show them absent; otherwise
    turning a camera away and cutting the power cleared the alarm (redteam12). When the index
    cannot be written (locked, disk failing), the camera goes on recording: the change is
    logged and tried again every `RETRY` seconds, and none is lost."""

    RETRY = 5.0
    AUDIT = 5.0        # seconds of frames between two looks at the index while raised

    def __init__(self, camera: str, width: int, height: int, store: AlarmStore,
                 settings: TamperSettings | None = None, *, unclean_start: bool = False):
        self.camera, self.store = camera, store
        found = [parse_alarm_kind(a["kind"]) for a in store.alarms()]
        active = [cond for cam, cond in filter(None, found) if cam == camera]
        latched = [cond for cond in active if cond in VIEW_LEARNT] if unclean_start else []
        for cond in latched:
            log.warning("camera %s: the alarm %s stays raised: the recorder before ended "
                        "uncleanly (power cut, crash, watchdog) while it was raised, so the view "
                        "learnt now cannot clear it; after checking the camera, a deliberate "
                        "restart (systemctl restart nvr-recorder) accepts the view", camera, cond)
        self.detector = TamperDetector(width, height, settings, active, latched)
        self.pending: dict[str, str | None] = {}      # kind: detail to raise, None to clear
        self._retry_at = self._audit_at = -np.inf

    def feed(self, luma: np.ndarray, t: float) -> None:
        for change in self.detector.feed(luma, t):
            kind = alarm_kind(self.camera, change.condition)
            self.pending[kind] = f"camera {self.camera}: {change.detail}" if change.raised \
                else None
            self._retry_at = -np.inf
        if t >= self._audit_at or t < self._audit_at - 2 * self.AUDIT:
            self._audit_at = t + self.AUDIT
            self._audit()
        if self.pending and (t >= self._retry_at or t < self._retry_at - 2 * self.RETRY):
            self._write(t)

    def _audit(self) -> None:
        """R-82: an alarm the picture still shows must be in the index. Someone with sqlite3
        and the data directory (the group nvr) could delete its row and hide a covered camera;
        it is raised again, and the journal says so. Only while a condition is raised."""
        active = self.detector.active
        if not active:
            return
        try:
            present = {a["kind"] for a in self.store.alarms()}
        except Exception:   # noqa: BLE001 - the index is unreadable now: the next look
            return
        for condition in active:
            kind = alarm_kind(self.camera, condition)
            if kind not in present and kind not in self.pending:
                log.error("camera %s: the tamper alarm %s was removed from the index while the "
                          "picture still shows it (by hand?); raised again", self.camera, kind)
                self.pending[kind] = (f"camera {self.camera}: "
                                      f"{self.detector._describe(condition)} (raised again: "
                                      "the alarm had been removed from the index)")
                self._retry_at = -np.inf

    def _write(self, t: float) -> None:
        for kind, detail in list(self.pending.items()):
            try:
                if detail is None:
                    self.store.clear_alarm(kind)    # the store logs both (the journal)
                else:
                    self.store.raise_alarm(kind, detail)
            except Exception as exc:   # noqa: BLE001 - whatever the index says, keep recording
                log.error("camera %s: the tamper alarm %s could not be %s in the index (%s); "
                          "tried again in %.0f s", self.camera, kind,
                          "cleared" if detail is None else "raised", exc, self.RETRY)
                self._retry_at = t + self.RETRY
                return
            del self.pending[kind]
