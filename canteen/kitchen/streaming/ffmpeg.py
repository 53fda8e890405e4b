"""ffmpeg command lines and the small parsers around them. Pure functions: easy to test and to
read in one place."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from .config import StreamConfig

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: new process group (so the whole group can be signalled)
    and SIGKILL when the supervisor dies, so no ffmpeg outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the process group still lets us clean up
        pass


def spawn(argv: Sequence[str], *, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=None) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - an argv list we build, no shell
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - single-threaded spawner, see above
    )


def kill_group(proc: subprocess.Popen, *, grace: float = 2.0) -> None:
    """SIGTERM the process group, then SIGKILL if it lingers; always reaps."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


def with_credentials(url: str, username: str, password: str) -> str:
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def input_args(url: str, config: StreamConfig) -> list[str]:
    timeout_us = str(int(config.input_timeout_s * 1_000_000))
    scheme = urlsplit(url).scheme
    if scheme in {"rtsp", "rtsps"}:
        # TCP interleaved: no UDP ports to open through school firewalls, no packet loss artefacts.
        return ["-rtsp_transport", "tcp", "-timeout", timeout_us, "-i", url]
    if scheme == "udp":
        sep = "&" if "?" in url else "?"
        return ["-i", f"{url}{sep}fifo_size=200000&overrun_nonfatal=1&timeout={timeout_us}"]
    if scheme in {"http", "https"}:
        return ["-rw_timeout", timeout_us, "-i", url]
    return ["-rw_timeout", timeout_us, "-i", url]


def relay_argv(url: str, camera_dir: Path, config: StreamConfig, *, transcode: bool = False) -> list[str]:
    """One ffmpeg per camera: the input once, two outputs: low-latency HLS for the live view and
    MPEG-TS recording segments named by their UTC start time. MPEG-TS, not MP4, so that a segment
    cut short by a crash is still playable."""
    live, rec = camera_dir / "live", camera_dir / "rec"
    video = ["-c:v", "copy"]
    if transcode:
        gop = "15"
        video = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", gop, "-pix_fmt", "yuv420p"]
    argv = [config.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-progress", "pipe:1"]
    # Small probe: a camera that repeats SPS/PPS per keyframe is recognised within a second.
    argv += ["-stats_period", "1", "-analyzeduration", "1500000", "-probesize", "1000000"]
    if config.copyts:
        argv += ["-copyts"]
    argv += input_args(url, config)
    # Timestamps as the source sent them, with no muxer delay added: the benchmark compares them
    # with the wall clock that the source stamped in.
    mux = ["-muxdelay", "0", "-muxpreload", "0"] if config.copyts else []
    argv += ["-map", "0:v:0", *video, "-an", *mux]
    argv += ["-f", "hls", "-hls_time", str(config.hls_time), "-hls_list_size", str(config.hls_list_size)]
    argv += ["-hls_flags", "delete_segments+omit_endlist+independent_segments+temp_file"]
    argv += ["-hls_segment_filename", str(live / "seg_%06d.ts"), str(live / "index.m3u8")]
    argv += ["-map", "0:v:0", *video, "-an", *mux]
    argv += ["-f", "segment", "-segment_time", str(config.segment_seconds), "-segment_format", "mpegts"]
    argv += ["-strftime", "1", "-reset_timestamps", "1", str(rec / "%Y%m%dT%H%M%SZ.ts")]
    return argv


def simulated_camera_argv(
    url: str,
    *,
    label: str = "",
    pattern: str = "testsrc",
    size: str = "480x270",
    rate: int = 10,
    ffmpeg: str = "ffmpeg",
) -> list[str]:
    """A simulated camera: an ffmpeg test pattern with the wall clock burnt in, H.264 (one
    keyframe a second), pushed as MPEG-TS to `url` (udp://127.0.0.1:PORT)."""
    text = f"{label} %{{localtime\\:%H\\\\\\:%M\\\\\\:%S}}".strip()
    draw = (
        f"drawtext=fontfile={FONT}:text='{text}':x=8:y=8:fontsize=18:fontcolor=white:box=1:boxcolor=black@0.6"
        if Path(FONT).exists()
        else "null"
    )
    source = pattern if "=" in pattern else f"{pattern}=size={size}:rate={rate}"
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        source,
        "-vf",
        draw,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-g",
        str(rate),
        # SPS/PPS before every keyframe, as IP cameras do, so a relay can join mid-stream.
        "-x264-params",
        "repeat-headers=1",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mpegts",
        _udp_out(url),
    ]


def loop_source_argv(url: str, clip: Path, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """A cheap simulated camera: a pre-encoded clip looped at its native rate, copied (no encode).
    Use an MP4 clip that starts at 0 (ffmpeg 5.1 pauses for seconds when it loops a TS clip with
    -re); the MPEG-TS muxer's automatic mp4toannexb filter puts SPS/PPS before every keyframe."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
        str(clip),
        "-c",
        "copy",
        "-f",
        "mpegts",
        _udp_out(url),
    ]


def _udp_out(url: str) -> str:
    return url if "pkt_size" in url else f"{url}{'&' if '?' in url else '?'}pkt_size=1316"


def make_clip_argv(out: Path, *, seconds: int, label: str = "", size: str = "480x270", rate: int = 10) -> list[str]:
    argv = simulated_camera_argv("udp://x", label=label, size=size, rate=rate, pattern="testsrc2")
    argv = [a for a in argv if a != "-re"]
    return [*argv[:-3], "-t", str(seconds), "-f", "mpegts", str(out)]


@dataclass
class Progress:
    frame: int = 0
    fps: float = 0.0
    out_time_us: int = 0
    ended: bool = False


def parse_progress_block(lines: Sequence[str], into: Progress) -> Progress:
    """ffmpeg -progress writes key=value lines ending with progress=continue|end."""
    for line in lines:
        key, _, value = line.strip().partition("=")
        try:
            if key == "frame":
                into.frame = int(value)
            elif key == "fps":
                into.fps = float(value)
            elif key == "out_time_us" and value.lstrip("-").isdigit():
                into.out_time_us = int(value)
            elif key == "progress" and value == "end":
                into.ended = True
        except ValueError:
            continue
    return into


def parse_playlist(text: str) -> list[tuple[str, float]]:
    """(segment file name, duration) for each entry of a media playlist."""
    entries, duration = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            entries.append((line, duration))
            duration = None
    return entries


def probe_duration(path: Path, *, ffprobe: str = "ffprobe") -> float | None:
    try:
        out = subprocess.run(  # noqa: S603 - an argv list we build, no shell
            [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout.strip()
        return float(out) if out and out != "N/A" else None
    except (ValueError, subprocess.TimeoutExpired):
        return None
