"""Start many workers at the same instant, each with its own app context and database session."""
import threading

from portal.extensions import db


def run_concurrently(app, count: int, work, timeout: float = 120) -> tuple[list, list]:
    """Call work(i) for i in range(count) from `count` threads released together; (results, errors)."""
    barrier, results, errors = threading.Barrier(count), [], []

    def target(i):
        with app.app_context():
            barrier.wait()
            try:
                results.append(work(i))
            except Exception as exc:  # returned to the test, which asserts on it
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results, errors
