"""TAP output for the Python test scripts (meson runs them with protocol : 'tap', and .ci/run
counts their "ok N" / "not ok N" lines as cases).

    import taplib
    sys.exit(taplib.run([(name, fn), ...], skip_reason=lambda name: None))

Each case is a function: it passes when it returns, fails when it raises (the message goes out
as "# ..." lines under "not ok N - name"), and is skipped when it raises taplib.Skip or when
skip_reason(name) gives a reason. The plan "1..N" comes last. The exit status is 1 when a case
failed. A script's own notes must go to stdout as comment() lines, or to stderr."""
import time


class Skip(Exception):
    """Raised by a case that cannot run here; its message is the reason."""


def comment(text):
    for line in str(text).splitlines() or [""]:
        print(f"# {line}".rstrip(), flush=True)


def run(cases, skip_reason=None, timed=False):
    """timed: the passing lines say how long the case took, "ok N - name (1.2 s)"."""
    n = failed = 0
    for name, fn in cases:
        n += 1
        reason = skip_reason(name) if skip_reason else None
        if reason:
            print(f"ok {n} - {name} # SKIP {reason}", flush=True)
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            print(f"ok {n} - {name} # SKIP {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every case's failure
            failed += 1
            print(f"not ok {n} - {name}", flush=True)
            comment(str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}")
        else:
            took = f" ({time.monotonic() - t0:.1f} s)" if timed else ""
            print(f"ok {n} - {name}{took}", flush=True)
    print(f"1..{n}", flush=True)
    return 1 if failed else 0
