"""Opening a device by pyserial URL (a COM/tty port, a pty, or socket://host:port) and reading framed replies."""

from __future__ import annotations

import time

import serial

from robot.errors import DeviceDisconnected, DeviceTimeout


class Port:
    def __init__(self, url: str, baudrate: int = 9600, timeout: float = 2.0):
        self.url = url
        self.timeout = timeout
        try:
            self.ser = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=timeout)
        except (serial.SerialException, OSError) as e:
            raise DeviceDisconnected(f"cannot open {url}: {e}") from e

    def write(self, data: bytes) -> None:
        """Write and flush; a failing line raises DeviceDisconnected."""
        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError) as e:
            raise DeviceDisconnected(f"{self.url}: write failed: {e}") from e

    def read_until(self, terminator: bytes, timeout: float | None = None) -> bytes:
        """Bytes up to and including ``terminator``; DeviceTimeout when it does not come in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        buf = bytearray()
        while time.monotonic() < deadline:
            try:
                chunk = self.ser.read(1)
            except (serial.SerialException, OSError) as e:
                raise DeviceDisconnected(f"{self.url}: read failed: {e}") from e
            if chunk:
                buf += chunk
                if buf.endswith(terminator):
                    return bytes(buf)
        raise DeviceTimeout(f"{self.url}: no complete reply within {timeout or self.timeout:.1f} s (got {bytes(buf)!r})")

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """n bytes (a checksum after a frame's end byte), or DeviceTimeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        buf = bytearray()
        while len(buf) < n and time.monotonic() < deadline:
            try:
                buf += self.ser.read(n - len(buf))
            except (serial.SerialException, OSError) as e:
                raise DeviceDisconnected(f"{self.url}: read failed: {e}") from e
        if len(buf) < n:
            raise DeviceTimeout(f"{self.url}: {n} bytes expected within {timeout or self.timeout:.1f} s (got {bytes(buf)!r})")
        return bytes(buf)

    def drain(self) -> None:
        """Discard whatever waits in the input buffer (a stale reply from an earlier command)."""
        try:
            self.ser.reset_input_buffer()
        except (serial.SerialException, OSError):
            pass

    def close(self) -> None:
        """Close the serial line."""
        try:
            self.ser.close()
        except Exception:  # noqa: BLE001 - closing a dead port must not raise
            pass
