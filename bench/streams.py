"""How many simulated camera streams one core relays (remux, -c copy) with healthy live views,
and the live latency.

    .venv/bin/python bench/streams.py [--small] [--streams 1,4,8,16] [--seconds 15]

Each simulated camera is a pre-encoded H.264 clip looped by ffmpeg at its native rate (copy, so
the sources cost little) and pushed as MPEG-TS over UDP to 127.0.0.1, exactly what the demo and
the tests use. Each relay is the production relay (canteen.kitchen.streaming.supervisor.Relay):
one ffmpeg writing 1-second live HLS segments and recording segments.

Figures:
- CPU per relayed stream: the relays' user+system CPU time over the measuring window (from
  /proc), as a share of one core; streams per core = 1 / that share.
- healthy: a stream whose live playlist got a new segment in the last 3 s, whose relay kept the
  source's frame rate (≥ 90 %) and was never restarted.
- latency: sources stamp their packets with the wall clock (-output_ts_offset) and the relays keep
  those timestamps (-copyts); for each new live segment, the time it appeared in the playlist
  minus the capture time of its first and of its last frame. A viewer (hls.js, 2 segments behind
  the live edge) sees about "first frame" + 2 segment lengths.
No database is needed: the relays do not write health rows here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canteen.settings.test")

import django  # noqa: E402

django.setup()

from canteen.kitchen.streaming import ffmpeg as ff  # noqa: E402
from canteen.kitchen.streaming.config import StreamConfig  # noqa: E402
from canteen.kitchen.streaming.supervisor import Relay  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def make_clip(path: Path, *, size: str, rate: int, kbps: int, seconds: int = 10) -> None:
    subprocess.run(  # noqa: S603
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={rate}",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            str(rate),
            "-b:v",
            f"{kbps}k",
            "-maxrate",
            f"{kbps}k",
            "-bufsize",
            f"{kbps * 2}k",
            "-x264-params",
            "repeat-headers=1",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mp4",
            "-y",
            str(path),
        ],  # fmt: skip
        check=True,
    )


def first_pts(path: Path) -> float:
    out = subprocess.run(  # noqa: S603
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time",
            "-read_intervals",
            "%+#1",
            "-of",
            "csv=p=0",
            str(path),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return float(out[0].strip(",")) if out else float("nan")


def source_argv(clip: Path, url: str, offset: float, *, live: str = "") -> list[str]:
    """A looped clip (copy), or with `live` a live-encoded test pattern of that size@rate."""
    if live:
        size, rate = live.split("@")
        argv = ff.simulated_camera_argv(url, size=size, rate=int(rate), pattern="testsrc2")
        argv[argv.index("ultrafast")] = "veryfast"
    else:
        argv = ff.loop_source_argv(url, clip)
    at = len(argv) - 3  # before "-f mpegts URL"
    # ffmpeg rebases the clip to start at 0; no mux delay, so pts = offset + seconds since start.
    extra = ["-output_ts_offset", f"{offset:.3f}", "-muxdelay", "0", "-muxpreload", "0"]
    return [*argv[:at], *extra, *argv[at:]]


def run_round(n: int, clip: Path, live: str, rate: int, seconds: float, root: Path) -> dict:
    """n streams relayed at once; stream 0 is live-encoded (its frames are stamped when they are
    made, so it measures the latency), the others loop the clip (cheap sources)."""
    config = StreamConfig(root=root / f"n{n}", segment_seconds=60, hls_time=1.0, copyts=True, input_timeout_s=5)
    sources, relays, starts = [], [], []
    try:
        for i in range(n):
            url = f"udp://127.0.0.1:{free_port()}"
            wall = time.time()
            offset = wall % 86400  # capture time of the clip's start, as seconds since midnight UTC
            sources.append(ff.spawn(source_argv(clip, url, offset, live=live if i == 0 else "")))
            starts.append((wall, offset))
            relays.append(Relay(f"cam{i:03d}", url, False, config))
        now = time.monotonic()
        for relay in relays:
            relay.start(now)
        time.sleep(5)  # warm-up: probing, the first keyframes, the first segments
        cpu0 = {r.camera_id: cpu_seconds(r.proc.pid) for r in relays if r.running}
        frames0 = {r.camera_id: r.progress.frame for r in relays}
        seen: dict[tuple[str, str], float] = {}
        latencies_first, latencies_last = [], []
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            for relay in relays:
                relay.poll(time.monotonic())
                playlist = relay.dir / "live" / "index.m3u8"
                try:
                    entries = ff.parse_playlist(playlist.read_text())
                except FileNotFoundError:
                    continue
                for name, duration in entries[-1:] if relay.camera_id == "cam000" else []:
                    key = (relay.camera_id, name)
                    if key in seen:
                        continue
                    seen[key] = time.time()
                    pts = first_pts(relay.dir / "live" / name)
                    wall, offset = starts[0]
                    captured = wall + (pts - offset)
                    latencies_first.append(seen[key] - captured)
                    latencies_last.append(seen[key] - captured - duration + 1 / rate)
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        cpu = sum(cpu_seconds(r.proc.pid) - cpu0.get(r.camera_id, 0) for r in relays if r.running)
        healthy = 0
        for relay in relays:
            playlist = relay.dir / "live" / "index.m3u8"
            fresh = playlist.exists() and time.time() - playlist.stat().st_mtime < 3
            fps = (relay.progress.frame - frames0[relay.camera_id]) / elapsed
            if fresh and relay.restarts == 0 and fps >= 0.9 * rate:
                healthy += 1
            elif os.environ.get("BENCH_DEBUG"):
                print(relay.camera_id, "fresh", fresh, "restarts", relay.restarts, "fps", round(fps, 1))
        source_cpu = sum(cpu_seconds(p.pid) for p in sources)
        return {
            "streams": n,
            "healthy": healthy,
            "cpu_per_stream_pct": 100 * cpu / elapsed / n,
            "relay_cores": cpu / elapsed,
            "source_cpu_s": source_cpu,
            "lat_first_ms": 1000 * statistics.median(latencies_first) if latencies_first else float("nan"),
            "lat_first_p95_ms": 1000 * _p95(latencies_first),
            "lat_last_ms": 1000 * statistics.median(latencies_last) if latencies_last else float("nan"),
            "segments_seen": len(seen),
            "source_cores": source_cpu / (elapsed + 5),
        }
    finally:
        for relay in relays:
            relay.stop()
        for proc in sources:
            ff.kill_group(proc)


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="480x270 10 fps, 1 and 4 streams, 8 s")
    parser.add_argument("--streams", default="1,4,8,16")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    if args.small:
        size, rate, kbps, counts, seconds = "480x270", 10, 400, [1, 4], 8.0
    else:
        size, rate, kbps, counts, seconds = (
            "1280x720",
            25,
            2000,
            [int(x) for x in args.streams.split(",")],
            args.seconds,
        )
    root = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    try:
        clip = root / "clip.mp4"
        make_clip(clip, size=size, rate=rate, kbps=kbps)
        print(f"source: {size} @ {rate} fps, H.264 ~{kbps} kbit/s, 1 s GOP; relay: -c copy → 1 s HLS + 60 s TS")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        header = f"{'streams':>7} {'healthy':>7} {'cpu/stream':>10} {'streams/core':>12} {'lat first':>9} {'p95':>6} {'lat last':>8}"
        print(header)
        for n in counts:
            r = run_round(n, clip, f"{size}@{rate}", rate, seconds, root)
            per_core = 100 / r["cpu_per_stream_pct"] if r["cpu_per_stream_pct"] else float("inf")
            print(
                f"{r['streams']:>7} {r['healthy']:>7} {r['cpu_per_stream_pct']:>9.2f}% {per_core:>12.0f} "
                f"{r['lat_first_ms']:>7.0f}ms {r['lat_first_p95_ms']:>4.0f}ms {r['lat_last_ms']:>6.0f}ms",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print("viewer latency ≈ 'lat first' + 2 × 1 s segments (hls.js liveSyncDurationCount = 2)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
