"""For devstack's moto process: moto's service lookup done once, not per request.

Measured with py-spy on the soak's moto process while it ingests (the process is then the loop's
bottleneck, at a full core): to find the service a request is for, moto's server lists its own
package directory (a `listdir` and an `isdir` for each of some 200 entries), under the lock every
request thread takes: about 7 % of the process's time. Installed in devstack's moto process, the
directory is listed once. Nothing of the project is patched, and the tests' own moto is untouched.
"""

from __future__ import annotations

from moto import backends


def install() -> None:
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
