"""Events as people look for them: the recorder's segments grouped by the event they belong to.

The recorder opens an event when motion starts and adds 10-second segments to it until motion
has stopped for its post-roll (docs/recording.md); the index keeps `segments.event_id`. An
event here is built from the segments still readable (`EncryptedStore.list_segments`, R-40), so
an event whose footage is erased is gone, and an event partly erased shows what is left.
"""

from __future__ import annotations


def group_events(segments: list[dict]) -> list[dict]:
    """Segments (oldest first) grouped by event, oldest first: id, camera, start, end, held
    (any of its segments under an active hold, R-41) and its segments (id, start, end)."""
    events: dict[str, dict] = {}
    for s in segments:
        event = events.get(s["event_id"])
        if event is None:
            event = events[s["event_id"]] = {
                "id": s["event_id"], "camera": s["camera_id"], "start": s["start"],
                "end": s["end"], "held": False, "segments": []}
        event["end"] = max(event["end"], s["end"])
        event["held"] = event["held"] or bool(s["held"])
        event["segments"].append({"id": s["id"], "start": s["start"], "end": s["end"]})
    return sorted(events.values(), key=lambda e: e["start"])


def covering(requests: list[dict], camera: str, start: float, end: float) -> dict | None:
    """The first request (art. 9 or 10, not refused) whose camera and window overlap
    [start, end)."""
    for r in requests:
        if (r["camera_id"] == camera and r["start"] < end and r["end"] > start
                and r["status"] != "refused"):
            return r
    return None
