"""Real ffmpeg processes for the video tests: simulated cameras on localhost UDP and a
supervisor with short segments, all stopped (whole process groups) even when a test fails."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from canteen.kitchen.streaming.config import StreamConfig
from canteen.kitchen.streaming.simulate import SimulatedCameras
from canteen.kitchen.streaming.supervisor import StreamSupervisor


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def udp_url() -> Callable[[], str]:
    return lambda: f"udp://127.0.0.1:{free_udp_port()}"


@pytest.fixture
def stream_config(tmp_path) -> StreamConfig:
    return StreamConfig(
        root=tmp_path / "kitchen",
        segment_seconds=1,
        hls_time=1.0,
        backoff_base=0.3,
        backoff_max=2.0,
        input_timeout_s=2.0,
        stall_seconds=6.0,
        health_every=0.5,
        retention_every=0.5,
    )


@pytest.fixture
def cameras_sim():
    sim = SimulatedCameras(size="320x180", rate=10)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def supervisor(stream_config):
    sup = StreamSupervisor(stream_config)
    try:
        yield sup
    finally:
        sup.shutdown()


def run_until(step: Callable[[], object], done: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> float:
    """Call step() until done() holds; returns the seconds it took or fails the test."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        step()
        if done():
            return time.monotonic() - started
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
