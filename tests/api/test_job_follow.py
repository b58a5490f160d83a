"""Following a job: the long poll (GET /jobs/{id}?wait=S&after=V) and the
Server-Sent Events stream (GET /jobs/{id}/events, Last-Event-ID, the ping);
many waiting clients on a server of two threads while other requests are
served; the limit of 256 waiting clients; the streamed errors CSV and failed
rows of a job; and a server that stops cleanly while clients wait.

The module's server runs with --threads 2. A job stays queued as long as an
earlier job runs (the server runs one job at a time): the tests that need a
job that does not move queue it behind a big import, and end it by
cancelling it. At the module's end an event stream and a long poll are open
on such a job while the server is stopped: it must exit with status 0 and
end both replies properly."""

import http.client
import json
import socket
import threading
import time
import urllib.parse
import uuid

import harness
from harness import API, ApiTestCase, uniq, unique_email

DONE = ("succeeded", "failed", "cancelled")
JOB_TIMEOUT = 60
MAX_WAITING = 256

_module = {}


def setUpModule():
    ApiTestCase.S = harness.start_module_server(__name__, ["--threads", "2"])
    globals()["S"] = ApiTestCase.S


def tearDownModule():
    """Stops the server while an event stream and a long poll wait on a queued job."""
    s = ApiTestCase.S
    ApiTestCase.S = None
    problems = []
    waiting = []
    try:
        org, job = _module.get("queued_at_end", (None, None))
        if job is not None:
            tok = org.token("admin")   # made before the big import began
            path = jobs_path(org, job["id"])
            st = Stream(s, path + "/events", tok)
            first = st.next_event() if st.status == 200 else None
            if st.status != 200 or not first or first.get("event") != "progress":
                problems.append("the event stream did not start: %r %r" % (st.status, first))
            conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
            conn.request("GET", path + "?wait=60", headers={"Authorization": "Bearer " + tok})
            lp = conn.getresponse()   # the headers come at once; the body when the poll ends
            if lp.status != 200:
                problems.append("the long poll did not start: %r" % lp.status)
            waiting = [st, (conn, lp)]
    except Exception as e:   # the server must still be stopped
        problems.append("setting up the waiting clients failed: %r" % e)
    try:
        harness.stop_module_server(__name__)   # raises unless the exit status is 0
    finally:
        if waiting:
            st, (conn, lp) = waiting
            try:
                rest = st.events()
                if rest:
                    problems.append("the event stream sent more at shutdown: %r" % rest)
            except Exception as e:
                problems.append("the event stream did not end properly at shutdown: %r" % e)
            try:
                body = json.loads(lp.read())
                if body.get("id") != job["id"] or body.get("state") != "queued":
                    problems.append("the long poll answered %r at shutdown" % body)
            except Exception as e:
                problems.append("the long poll did not answer properly at shutdown: %r" % e)
            st.close()
            conn.close()
    if problems:
        raise AssertionError("; ".join(problems))


def jobs_path(org, job_id=None, tail=""):
    p = "%s/org/%s/jobs" % (API, org.id)
    if job_id is not None:
        p += "/" + job_id
    return p + tail


def emails_csv(n, tag):
    return "email,first_name\n" + "".join("%s.%d@example.com,F%d\n" % (tag, i, i) for i in range(n))


# ---------------------------------------------------------------------- a streamed reply, read as it comes

class Cut(AssertionError):
    pass


class Stream:
    """A GET whose chunked body is read as it comes (for event streams): the
    chunks are decoded by hand, so a body that ends without its terminating
    chunk is told apart from one that ends properly."""

    def __init__(self, server, path, token=None, headers=None, timeout=60):
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers
        self.buf = b""
        self.ended = False
        self.comments = []
        if self.status != 200:
            raw = self.resp.read()
            self.problem = harness.Resp(self.status, self.headers, raw)
            self.ended = True

    def _fill(self):
        if self.ended:
            return False
        fp = self.resp.fp
        line = fp.readline()
        if not line:
            raise Cut("the connection closed without the terminating chunk")
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise Cut("not a chunk size: %r" % line)
        if size == 0:
            while True:
                t = fp.readline()
                if t in (b"\r\n", b"\n"):
                    break
                if not t:
                    raise Cut("the connection closed inside the trailer")
            self.ended = True
            return False
        data = fp.read(size)
        if len(data) < size or fp.read(2) != b"\r\n":
            raise Cut("the connection closed inside a chunk")
        self.buf += data
        return True

    def readline(self):
        while b"\n" not in self.buf:
            if not self._fill():
                rest, self.buf = self.buf, b""
                return rest
        i = self.buf.index(b"\n")
        line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        return line

    def next_event(self):
        """The next event as {"id", "event", "data" (parsed), "raw"}, or
        {"comments": [...]} for a block of comments alone; None at the end."""
        ev, comments, raw = {}, [], []
        while True:
            line = self.readline()
            if not line:
                if ev or comments:
                    raise AssertionError("the stream ended inside an event: %r" % raw)
                return None
            raw.append(line)
            text = line.decode("utf-8").rstrip("\n").rstrip("\r")
            if text == "":
                if ev:
                    if "data" in ev:
                        ev["data"] = json.loads(ev["data"])
                    ev["raw"] = b"".join(raw)
                    return ev
                if comments:
                    return {"comments": comments}
                continue
            if text.startswith(":"):
                comments.append(text[1:].strip())
                continue
            name, _, value = text.partition(":")
            if value.startswith(" "):
                value = value[1:]
            ev[name] = ev[name] + "\n" + value if name in ev else value

    def events(self):
        """Every remaining event, to the end of the body (comments are kept in self.comments)."""
        out = []
        while True:
            ev = self.next_event()
            if ev is None:
                return out
            if "comments" in ev and len(ev) == 1:
                self.comments.extend(ev["comments"])
                continue
            out.append(ev)

    def close(self):
        self.conn.close()


class FollowCase(ApiTestCase):
    maxDiff = 4000

    def start_import(self, org, data, token=None, ctype="text/csv", **query):
        q = ("?" + urllib.parse.urlencode(query)) if query else ""
        r = self.S.request("POST", org.users + "/import" + q, raw=data, token=token or org.token("admin"),
                           content_type=ctype, timeout=120)
        self.assertEqual(r.status, 202, r)
        return r.body

    def job(self, org, job_id, token=None):
        r = self.S.get(jobs_path(org, job_id), token=token or org.token("admin"))
        self.assertEqual(r.status, 200, r)
        return r.body

    def wait_job(self, org, job_id, timeout=JOB_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(org, job_id)
            if j["state"] in DONE:
                return j
            self.assertLess(time.monotonic(), deadline, "the job did not end: %r" % j)
            time.sleep(0.05)

    def wait_running(self, org, job_id):
        """Polls until the job runs and has committed a batch; returns it."""
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            j = self.job(org, job_id)
            if j["state"] == "running" and j["processed"] > 0:
                return j
            self.assertIn(j["state"], ("queued", "running"), "the job ended too soon: %r" % j)
            self.assertLess(time.monotonic(), deadline, j)
            time.sleep(0.01)

    def poll(self, org, job_id, token=None, timeout=30, **params):
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        return self.S.get(jobs_path(org, job_id) + q, token=token or org.token("admin"), timeout=timeout)

    def stream(self, org, job_id, token=None, last_event_id=None, timeout=60):
        h = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
        return Stream(self.S, jobs_path(org, job_id, "/events"), token or org.token("admin"), h, timeout)

    def open_stream(self, org, job_id, token=None, last_event_id=None, timeout=60):
        st = self.stream(org, job_id, token, last_event_id, timeout)
        self.addCleanup(st.close)
        self.assertEqual(st.status, 200, getattr(st, "problem", None))
        self.assertEqual(st.headers.get("Content-Type", "").replace(" ", "").lower(),
                         "text/event-stream;charset=utf-8")
        self.assertEqual((st.headers.get("Transfer-Encoding") or "").lower(), "chunked")
        self.assertEqual(st.headers.get("Cache-Control"), "no-store")
        self.assertEqual(st.headers.get("X-Accel-Buffering"), "no")
        return st

    def cancel(self, org, job_id):
        r = self.S.request("POST", jobs_path(org, job_id, "/cancel"), token=org.token("admin"))
        self.assertEqual(r.status, 202, r)
        return r.body

    # ---- assertions
    def assertEventsInOrder(self, events, job_id, final_state):
        """Progress events with growing versions, then one end event with the final state."""
        self.assertGreaterEqual(len(events), 1)
        versions = []
        for ev in events:
            self.assertEqual(set(ev) - {"raw"}, {"id", "event", "data"}, ev)
            self.assertEqual(ev["data"]["id"], job_id, ev)
            self.assertEqual(ev["id"], str(ev["data"]["version"]), ev)
            versions.append(ev["data"]["version"])
        self.assertEqual(versions, sorted(set(versions)), "the versions do not strictly grow: %r" % versions)
        for ev in events[:-1]:
            self.assertEqual(ev["event"], "progress", ev)
            self.assertIn(ev["data"]["state"], ("queued", "running"), ev)
        self.assertEqual(events[-1]["event"], "end", events[-1])
        self.assertEqual(events[-1]["data"]["state"], final_state, events[-1])
        processed = [ev["data"]["processed"] for ev in events]
        self.assertEqual(processed, sorted(processed))
        return versions


# ====================================================================== long poll

class LongPollTest(FollowCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Follow Poll Org")
        cls.other = cls.S.org_create("Follow Poll Other")
        r = cls.S.request("POST", cls.org.users + "/import", raw="email\nbroken\n%s\n" % unique_email("lp"),
                          token=cls.org.token("admin"), content_type="text/csv")
        assert r.status == 202, r
        cls.done_id = r.body["id"]

    def setUp(self):
        self.done = self.wait_job(self.org, self.done_id)

    def test_a_finished_job_answers_at_once_with_its_final_state(self):
        self.assertEqual((self.done["state"], self.done["succeeded"], self.done["failed"]), ("succeeded", 1, 1))
        for params in (dict(wait=60), dict(wait=60, after=self.done["version"]), dict(wait=60, after=0),
                       dict(wait=1, after=self.done["version"] + 100)):
            with self.subTest(**params):
                # a socket timeout of half the wait: a poll that waited would fail here
                r = self.poll(self.org, self.done_id, timeout=30, **params)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers.get("Content-Type"), "application/json")
                self.assertEqual(r.body, self.done)

    def test_wait_0_is_an_ordinary_get(self):
        for params in (dict(wait=0), dict(wait=0, after=3)):
            with self.subTest(**params):
                r = self.poll(self.org, self.done_id, **params)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, self.done)

    def test_following_a_running_import_by_long_polls_sees_every_change_to_the_end(self):
        org = self.S.org_create("Follow Poll Running")
        n = 30000
        job = self.start_import(org, emails_csv(n, uniq("lpr")))
        cur = self.wait_running(org, job["id"])
        v = cur["version"]
        # after = the version we have: the answer is a newer version (or the end)
        r = self.poll(org, job["id"], wait=30, after=v, timeout=50)
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.body["version"], v, r.body)
        self.assertEqual((r.headers.get("Transfer-Encoding") or "").lower(), "chunked")
        # without after: a version newer than the one before the request (or the end)
        before = self.job(org, job["id"])
        r = self.poll(org, job["id"], wait=30, timeout=50)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body["version"] > before["version"] or r.body["state"] in DONE, (before, r.body))
        # chained: each answer moves on from the last, to the end
        seen = [r.body]
        for _ in range(200):
            if seen[-1]["state"] in DONE:
                break
            r = self.poll(org, job["id"], wait=30, after=seen[-1]["version"], timeout=50)
            self.assertEqual(r.status, 200, r)
            seen.append(r.body)
        versions = [j["version"] for j in seen]
        self.assertEqual(versions, sorted(set(versions)), versions)
        self.assertEqual(seen[-1]["state"], "succeeded", seen[-1])
        self.assertEqual((seen[-1]["processed"], seen[-1]["succeeded"]), (n, n))
        self.assertEqual(seen[-1], self.job(org, job["id"]))
        # once ended, a poll after the final version answers at once with it
        r = self.poll(org, job["id"], wait=60, after=versions[-1], timeout=30)
        self.assertEqual(r.body, seen[-1])

    def test_bad_parameters_are_400_naming_them(self):
        tok = self.org.token("viewer")
        for params, field in ((dict(wait=61), "wait"), (dict(wait=-1), "wait"), (dict(wait="abc"), "wait"),
                              (dict(wait=""), "wait"), (dict(wait="1.5"), "wait"), (dict(wait="5s"), "wait"),
                              (dict(wait=1000000000000), "wait"),
                              (dict(wait=5, after=-1), "after"), (dict(wait=5, after="x"), "after"),
                              (dict(wait=5, after=""), "after"), (dict(wait=5, after="1e3"), "after"),
                              (dict(after=3), "after"), (dict(after="x"), "after"),
                              (dict(wait="x", after=3), "wait")):
            with self.subTest(**params):
                self.assertProblem(self.poll(self.org, self.done_id, token=tok, **params), 400, field)

    def test_an_unknown_job_is_404(self):
        for jid in (str(uuid.uuid4()), "not-a-uuid"):
            with self.subTest(jid=jid):
                self.assertProblem(self.poll(self.org, jid, wait=5), 404)
                self.assertProblem(self.poll(self.org, jid, wait=5, after=1), 404)

    def test_roles_and_isolation(self):
        for role in ("viewer", "staff", "admin"):
            with self.subTest(role=role):
                r = self.poll(self.org, self.done_id, token=self.org.token(role), wait=10)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, self.done)
        for role in ("integration", "user"):
            with self.subTest(role=role):
                self.assertProblem(self.poll(self.org, self.done_id, token=self.org.token(role), wait=10), 403)
        self.assertProblem(self.poll(self.org, self.done_id, token=self.other.token("admin"), wait=10), 404)
        self.assertProblem(self.poll(self.other, self.done_id, token=self.other.token("admin"), wait=10), 404)
        r = self.S.get(jobs_path(self.org, self.done_id) + "?wait=10")
        self.assertProblem(r, 401)


# ====================================================================== event streams

class EventStreamTest(FollowCase):
    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Follow Events Org")
        cls.other = cls.S.org_create("Follow Events Other")
        for role in ("admin", "viewer"):   # before any import writes
            cls.org.token(role)
        r = cls.S.request("POST", cls.org.users + "/import", raw="email\n%s\n" % unique_email("ev"),
                          token=cls.org.token("admin"), content_type="text/csv")
        assert r.status == 202, r
        cls.done_id = r.body["id"]

    def setUp(self):
        self.done = self.wait_job(self.org, self.done_id)

    def test_the_events_of_a_20000_row_import_come_in_version_order_and_end_with_succeeded(self):
        n = 20000
        job = self.start_import(self.org, emails_csv(n, uniq("sse")))
        st = self.open_stream(self.org, job["id"], token=self.org.token("viewer"))
        events = st.events()        # to the terminating chunk: the stream closes after the end event
        self.assertTrue(st.ended)
        self.assertGreaterEqual(len(events), 2, "not one progress event before the end: %r" % events)
        versions = self.assertEventsInOrder(events, job["id"], "succeeded")
        last = events[-1]["data"]
        self.assertEqual((last["processed"], last["succeeded"], last["failed"], last["total"]), (n, n, 0, n))
        self.assertEqual(last["progress"], 1)
        self.assertEqual(last, self.job(self.org, job["id"]))
        self.assertGreaterEqual(versions[0], job["version"])
        # each event is id, event and data lines and a blank line, the data the job on one line
        for ev in events:
            self.assertRegex(ev["raw"].decode("utf-8"), r"\Aid: \d+\nevent: (progress|end)\ndata: \{[^\n]*\}\n\n\Z")

    def test_last_event_id_of_the_final_version_of_a_finished_job_gives_the_end_event_alone(self):
        st = self.open_stream(self.org, self.done_id, last_event_id=self.done["version"])
        events = st.events()
        self.assertEqual([(e["id"], e["event"]) for e in events], [(str(self.done["version"]), "end")])
        self.assertEqual(events[0]["data"], self.done)

    def test_a_finished_job_without_or_with_any_other_last_event_id_gives_one_end_event(self):
        for leid in (None, 0, 1, self.done["version"] - 1, self.done["version"] + 5, "garbage", "-3", ""):
            with self.subTest(last_event_id=leid):
                st = self.open_stream(self.org, self.done_id, last_event_id=leid)
                events = st.events()
                self.assertEqual(len(events), 1, events)
                self.assertEventsInOrder(events, self.done_id, "succeeded")
                self.assertEqual(events[0]["data"], self.done)

    def test_last_event_id_resumes_a_running_job_after_that_version(self):
        org = self.S.org_create("Follow Events Resume")
        n = 30000
        job = self.start_import(org, emails_csv(n, uniq("res")))
        v = self.wait_running(org, job["id"])["version"]
        resumed = self.open_stream(org, job["id"], last_event_id=v)
        fresh = self.open_stream(org, job["id"])
        a, b = resumed.events(), fresh.events()
        self.assertGreater(int(a[0]["id"]), v, "an event for a version the client has: %r" % a[0]["id"])
        self.assertGreaterEqual(int(b[0]["id"]), v)
        for events in (a, b):
            self.assertEventsInOrder(events, job["id"], "succeeded")
            self.assertEqual(events[-1]["data"]["processed"], n)
        self.assertEqual(a[-1]["data"], b[-1]["data"])
        self.assertTrue(set(resumed.comments + fresh.comments) <= {"ping"}, resumed.comments + fresh.comments)
        # resuming the finished job from its last event gives that end event again, alone
        st = self.open_stream(org, job["id"], last_event_id=a[-1]["id"])
        self.assertEqual([(e["id"], e["event"]) for e in st.events()], [(a[-1]["id"], "end")])

    def test_roles_and_isolation(self):
        for role in ("viewer", "staff", "admin"):
            with self.subTest(role=role):
                st = self.open_stream(self.org, self.done_id, token=self.org.token(role))
                self.assertEqual([e["event"] for e in st.events()], ["end"])
        path = jobs_path(self.org, self.done_id, "/events")
        for role in ("integration", "user"):
            with self.subTest(role=role):
                self.assertProblem(self.S.get(path, token=self.org.token(role)), 403)
        other = self.other.token("admin")
        self.assertProblem(self.S.get(path, token=other), 404)
        self.assertProblem(self.S.get(jobs_path(self.other, self.done_id, "/events"), token=other), 404)
        self.assertProblem(self.S.get(path), 401)
        for jid in (str(uuid.uuid4()), "not-a-uuid"):
            self.assertProblem(self.S.get(jobs_path(self.org, jid, "/events"), token=self.org.token("admin")), 404)


# ====================================================================== a job's downloads, streamed

class JobDownloadsTest(FollowCase):
    """The errors CSV and the failed rows, a page of 1,000 at a time."""

    @classmethod
    def setUpClass(cls):
        cls.org = cls.S.org_create("Follow Downloads Org")

    def run_job(self, data, ctype="text/csv"):
        job = self.start_import(self.org, data, ctype=ctype)
        return self.wait_job(self.org, job["id"])

    def all_errors(self, job):
        out, after = [], 0
        while True:
            r = self.S.get(jobs_path(self.org, job["id"], "/errors?limit=1000&after_line=%d" % after),
                           token=self.org.token("admin"))
            self.assertEqual(r.status, 200, r)
            if not r.body:
                return out
            out.extend(r.body)
            after = r.body[-1]["line"]

    def download(self, job, tail):
        st = Stream(self.S, jobs_path(self.org, job["id"], tail), self.org.token("viewer"), timeout=60)
        self.addCleanup(st.close)
        self.assertEqual(st.status, 200, getattr(st, "problem", None))
        chunks = []
        try:
            while True:
                line = st.readline()
                if not line:
                    break
                chunks.append(line)
        except Cut as e:
            self.fail("%s was cut short after %d bytes: %s" % (tail, sum(map(len, chunks)), e))
        return st, b"".join(chunks)

    def mixed_csv(self, n, bad_every, pad):
        """n rows, every bad_every-th a failing one (with pad extra characters)."""
        tag = uniq("dl")
        header = "email,first_name"
        rows, bad = [], []
        for i in range(n):
            if i % bad_every == 0:
                row = "broken-%d,%s" % (i, ("pad%d-" % i + "p" * pad) if pad else "B%d" % i)
                bad.append((i + 2, row))
            else:
                row = "%s.%d@example.com,G%d" % (tag, i, i)
            rows.append(row)
        return header, rows, bad

    def test_errors_csv_of_1500_failures_is_every_error_once_in_line_order(self):
        header, rows, bad = self.mixed_csv(3000, 2, 0)
        job = self.run_job(header + "\n" + "\n".join(rows) + "\n")
        self.assertEqual((job["state"], job["failed"], job["errors_kept"]), ("succeeded", 1500, 1500), job)
        st, raw = self.download(job, "/errors?format=csv")
        self.assertTrue(st.headers.get("Content-Type", "").startswith("text/csv"))
        lines = raw.decode("utf-8").split("\r\n")
        self.assertEqual(lines[0], "line,field,detail,problem")
        self.assertEqual(lines[-1], "")
        body = lines[1:-1]
        self.assertEqual([int(x.split(",", 1)[0]) for x in body], [line for line, _ in bad])
        errs = self.all_errors(job)
        self.assertEqual([e["line"] for e in errs], [line for line, _ in bad])
        for x in body:
            self.assertTrue(x.split(",")[1] == "email", x)

    def test_failed_rows_of_1500_short_rows_are_the_header_and_every_row_as_sent(self):
        header, rows, bad = self.mixed_csv(3000, 2, 0)
        job = self.run_job(header + "\r\n" + "\r\n".join(rows) + "\r\n")
        self.assertEqual(job["failed"], 1500, job)
        st, raw = self.download(job, "/failed-rows")
        self.assertTrue(st.headers.get("Content-Type", "").startswith("text/csv"))
        self.assertEqual(raw.decode("utf-8"), "".join(x + "\r\n" for x in [header] + [row for _, row in bad]))

    def test_failed_rows_of_1000_short_then_1200_long_rows_are_every_row_as_sent(self):
        """The second page of failed rows (rows of about 1.5 kB) is over a
        megabyte, and much bigger than the first."""
        header, short_rows, short_bad = self.mixed_csv(2000, 2, 0)
        _, long_rows, long_bad = self.mixed_csv(2400, 2, 1500)
        bad = short_bad + [(line + 2000, row) for line, row in long_bad]
        job = self.run_job(header + "\n" + "\n".join(short_rows + long_rows) + "\n")
        self.assertEqual((job["state"], job["failed"], job["errors_kept"]), ("succeeded", 2200, 2200), job)
        self.assertEqual([e["line"] for e in self.all_errors(job)], [line for line, _ in bad])
        _, raw = self.download(job, "/failed-rows")
        text = raw.decode("utf-8")
        self.assertEqual(text.count("\r\n"), len(bad) + 1)
        self.assertEqual(text, "".join(x + "\r\n" for x in [header] + [row for _, row in bad]))

    def test_failed_rows_of_a_json_lines_job_over_two_pages(self):
        lines, bad = [], []
        tag = uniq("dj")
        for i in range(2200):
            if i % 2:
                lines.append(json.dumps({"email": "%s.%d@example.com" % (tag, i)}))
            else:
                lines.append(json.dumps({"email": "nope-%d" % i, "town": "T, \"%d\"" % i}))
                bad.append(lines[-1])
        job = self.run_job("\n".join(lines) + "\n", ctype="application/x-ndjson")
        self.assertEqual((job["state"], job["failed"]), ("succeeded", 1100), job)
        st, raw = self.download(job, "/failed-rows")
        self.assertIn("ndjson", st.headers.get("Content-Type", ""))
        self.assertEqual(raw.decode("utf-8"), "".join(x + "\n" for x in bad))


# ====================================================================== stopping while clients wait

class ShutdownTest(FollowCase):
    """A server of its own, stopped (SIGTERM) while clients wait on a queued job.

    When the server stops, a waiting long poll answers with the job as it is
    and an event stream ends. The job stays queued across restarts (the big
    import before it resumes each time), so the same database is served and
    stopped several times, each time just after 200 long polls were sent
    (some are still being looked at when the stop comes)."""

    CYCLES = 8
    POLLS = 200

    def read_reply(self, sock):
        raw = b""
        try:
            while True:
                d = sock.recv(65536)
                if not d:
                    break
                raw += d
        except OSError:
            pass
        return raw

    def check_poll_reply(self, raw, job):
        """None when the reply is the job (or nothing: a request the server had
        not yet read when it stopped listening), else what is wrong with it."""
        if not raw:
            return None
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"HTTP/1.1 200 "):
            return "not a 200: %r" % raw[:200]
        if b"transfer-encoding: chunked" not in head.lower():
            return "not chunked: %r" % head
        out = b""
        while True:
            line, sep, body = body.partition(b"\r\n")
            if not sep:
                return "cut short (no terminating chunk) after %r" % out[:200]
            n = int(line.split(b";")[0], 16)
            if n == 0:
                break
            out, body = out + body[:n], body[n + 2:]
        if not out:
            return "a 200 with an empty body"
        try:
            got = json.loads(out)
        except ValueError:
            return "not JSON: %r" % out[:200]
        if (got.get("id"), got.get("state"), got.get("version")) != (job["id"], "queued", job["version"]):
            return "not the job as it is: %r" % got
        return None

    def test_a_stopping_server_answers_every_waiting_long_poll_with_the_job_and_ends_every_event_stream(self):
        s = harness.Server()
        self.addCleanup(s.cleanup)
        try:
            s.start(["--threads", "4"])
            org = s.org_create("Follow Shutdown Org")
            tok = org.token("admin")
            r = s.request("POST", org.users + "/import", raw=emails_csv(300000, uniq("sd")), token=tok,
                          content_type="text/csv", timeout=120)
            self.assertEqual(r.status, 202, r)
            blocker = r.body["id"]
            deadline = time.monotonic() + JOB_TIMEOUT
            while s.get(jobs_path(org, blocker), token=tok).body["state"] != "running":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            r = s.request("POST", org.users + "/import", raw="email\n%s\n" % unique_email("sdq"), token=tok,
                          content_type="text/csv")
            self.assertEqual(r.status, 202, r)
            queued_id = r.body["id"]
        finally:
            code = s.stop()
        self.assertEqual(code, 0, "exit status %r\n%s" % (code, s.stderr_tail()))
        for cycle in range(self.CYCLES):
            socks = []
            try:
                s.start(["--threads", "4"])
                self.assertEqual(s.get(jobs_path(org, blocker), token=tok).body["state"], "running")
                job = s.get(jobs_path(org, queued_id), token=tok).body
                self.assertEqual(job["state"], "queued")
                st = Stream(s, jobs_path(org, queued_id, "/events"), tok)
                self.addCleanup(st.close)
                self.assertEqual(st.status, 200)
                first = st.next_event()
                self.assertEqual((first["event"], first["data"]), ("progress", job))
                conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
                self.addCleanup(conn.close)
                conn.request("GET", jobs_path(org, queued_id) + "?wait=60", headers={"Authorization": "Bearer " + tok})
                lp = conn.getresponse()
                self.assertEqual(lp.status, 200)
                req = ("GET %s?wait=60 HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (jobs_path(org, queued_id), s.host, s.port, tok)).encode()
                for _ in range(self.POLLS):
                    sock = socket.create_connection((s.host, s.port), timeout=30)
                    socks.append(sock)
                for sock in socks:
                    sock.sendall(req)
                time.sleep(0.01)
            finally:
                code = s.stop()
                replies = [self.read_reply(sock) for sock in socks]
                for sock in socks:
                    sock.close()
            self.assertEqual(code, 0, "cycle %d: exit status %r\n%s" % (cycle, code, s.stderr_tail()))
            # the long poll that waited answers with the job as it is, the stream ends properly
            body = json.loads(lp.read() or b"null")
            self.assertEqual(body, job, "cycle %d: the waiting long poll's answer" % cycle)
            self.assertEqual(st.events(), [], "cycle %d" % cycle)
            self.assertTrue(st.ended)
            bad = [w for w in (self.check_poll_reply(raw, job) for raw in replies) if w]
            self.assertEqual(bad, [], "cycle %d: %d of %d long polls answered wrongly at shutdown"
                             % (cycle, len(bad), self.POLLS))
            self.assertGreater(sum(1 for raw in replies if raw), 0)


# ====================================================================== many waiting clients

class WaitingClientsTest(FollowCase):
    """Clients that wait on a queued job (behind a big import), on a server of
    two threads. The big import is left running: the module's tear-down stops
    the server with clients waiting on a job queued behind it."""

    @classmethod
    def setUpClass(cls):
        cls.blocker_org = cls.S.org_create("Follow Blocker")
        cls.org = cls.S.org_create("Follow Waiting Org")
        # the tokens are made now: the command line waits for the database while the big import writes
        for role in ("admin", "staff", "viewer"):
            cls.org.token(role)
        cls.blocker_org.token("admin")
        r = cls.S.request("POST", cls.blocker_org.users + "/import", raw=emails_csv(1000000, uniq("blk")),
                          token=cls.blocker_org.token("admin"), content_type="text/csv", timeout=120)
        assert r.status == 202, r
        cls.blocker = r.body["id"]
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            g = cls.S.get(jobs_path(cls.blocker_org, cls.blocker), token=cls.blocker_org.token("admin"))
            assert g.status == 200 and g.body["state"] in ("queued", "running"), g
            if g.body["state"] == "running":
                break
            assert time.monotonic() < deadline, g
            time.sleep(0.02)

    def setUp(self):
        j = self.job(self.blocker_org, self.blocker)
        self.assertEqual(j["state"], "running", "the big import ended: the queued jobs would run: %r" % j)

    def queued_job(self):
        job = self.start_import(self.org, "email\n%s\n" % unique_email("q"))
        self.assertEqual(job["state"], "queued", job)
        return job

    def test_a_long_poll_with_an_older_after_answers_at_once_with_the_queued_state(self):
        job = self.queued_job()
        cur = self.job(self.org, job["id"])
        r = self.poll(self.org, job["id"], wait=60, after=0, timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, cur)
        self.cancel(self.org, job["id"])

    def test_a_long_poll_on_a_job_that_does_not_move_answers_after_the_wait_with_it_unchanged(self):
        job = self.queued_job()
        cur = self.job(self.org, job["id"])
        for params in (dict(wait=1), dict(wait=2, after=cur["version"])):
            with self.subTest(**params):
                r = self.poll(self.org, job["id"], timeout=30, **params)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, cur)
                self.assertEqual((r.body["state"], r.body["version"]), ("queued", cur["version"]))
        self.cancel(self.org, job["id"])

    def test_an_idle_event_stream_gets_a_ping_comment_and_then_the_end(self):
        job = self.queued_job()
        st = self.open_stream(self.org, job["id"], timeout=45)
        first = st.next_event()
        self.assertEqual((first["event"], first["data"]["state"]), ("progress", "queued"))
        ping = st.next_event()     # every 15 s while nothing happens
        self.assertEqual(ping, {"comments": ["ping"]})
        self.cancel(self.org, job["id"])
        rest = st.events()
        self.assertEqual([e["event"] for e in rest], ["end"])
        self.assertEventsInOrder([first] + rest, job["id"], "cancelled")

    def test_twenty_event_streams_and_five_long_polls_wait_while_other_requests_are_served(self):
        job = self.queued_job()
        jid = job["id"]
        viewer = self.org.token("viewer")
        started = threading.Semaphore(0)
        results, errors = {}, []

        def follow(k):
            try:
                st = Stream(self.S, jobs_path(self.org, jid, "/events"), viewer, timeout=60)
                try:
                    assert st.status == 200, st.status
                    evs = [st.next_event()]
                    started.release()
                    evs += st.events()
                    results[k] = evs
                finally:
                    st.close()
            except BaseException as e:
                errors.append((k, repr(e)))
                started.release()

        def long_poll(k):
            try:
                conn = http.client.HTTPConnection(self.S.host, self.S.port, timeout=60)
                try:
                    conn.request("GET", jobs_path(self.org, jid) + "?wait=60",
                                 headers={"Authorization": "Bearer " + viewer})
                    resp = conn.getresponse()
                    started.release()
                    results["poll%d" % k] = (resp.status, json.loads(resp.read()))
                finally:
                    conn.close()
            except BaseException as e:
                errors.append(("poll%d" % k, repr(e)))
                started.release()

        threads = [threading.Thread(target=follow, args=(k,), daemon=True) for k in range(20)]
        threads += [threading.Thread(target=long_poll, args=(k,), daemon=True) for k in range(5)]
        for t in threads:
            t.start()
        for _ in threads:
            self.assertTrue(started.acquire(timeout=30), "a client did not get its first answer")
        self.assertEqual(errors, [])
        # 25 clients wait on a server of two threads: other requests are still answered
        for i in range(10):
            r = self.S.get(self.org.users + "?limit=5", token=self.org.token("admin"), timeout=20)
            self.assertEqual(r.status, 200, r)
        r = self.S.get(jobs_path(self.org) + "?limit=5", token=self.org.token("admin"), timeout=20)
        self.assertEqual(r.status, 200, r)
        r = self.S.get("/healthz", timeout=20)
        self.assertEqual(r.status, 200, r)
        g = self.job(self.org, jid)
        self.assertEqual(g["state"], "queued")
        self.assertTrue(all(t.is_alive() for t in threads), "a waiting client was answered before the job moved")
        self.assertEqual(results, {})
        # the job moves: every client gets it
        self.cancel(self.org, jid)
        for t in threads:
            t.join(30)
            self.assertFalse(t.is_alive(), "a client was not answered after the job ended")
        self.assertEqual(errors, [])
        final = self.job(self.org, jid)
        self.assertEqual(final["state"], "cancelled")
        for k in range(20):
            evs = results[k]
            self.assertEqual(evs[0]["data"]["state"], "queued")
            self.assertEventsInOrder(evs, jid, "cancelled")
            self.assertEqual(evs[-1]["data"], final)
        for k in range(5):
            status, body = results["poll%d" % k]
            self.assertEqual(status, 200)
            self.assertEqual(body, final)

    def test_waiting_clients_beyond_256_get_503_with_retry_after(self):
        job = self.queued_job()
        jid = job["id"]
        tok = self.org.token("staff")
        path = jobs_path(self.org, jid, "/events")
        open_streams = []
        refused = None
        try:
            for k in range(MAX_WAITING + 5):
                st = Stream(self.S, path, tok, timeout=60)
                if st.status != 200:
                    refused = st
                    st.close()
                    break
                open_streams.append(st)
                first = st.next_event()
                self.assertEqual(first["data"]["state"], "queued", first)
            self.assertEqual(len(open_streams), MAX_WAITING)
            self.assertIsNotNone(refused)
            self.assertProblem(refused.problem, 503)
            self.assertEqual(refused.problem.headers.get("Retry-After"), "5")
            # a long poll waits too: refused; a plain GET of the job is not
            r = self.poll(self.org, jid, token=tok, wait=5)
            self.assertProblem(r, 503)
            self.assertRegex(r.headers.get("Retry-After") or "", r"^\d+$")
            self.assertEqual(self.poll(self.org, jid, token=tok).status, 200)
            self.assertEqual(self.S.get(self.org.users, token=tok).status, 200)
            # the job ends: every stream gets its end and closes
            self.cancel(self.org, jid)
            for st in open_streams:
                rest = st.events()
                self.assertEqual([e["event"] for e in rest], ["end"])
                self.assertEqual(rest[-1]["data"]["state"], "cancelled")
        finally:
            for st in open_streams:
                st.close()
        # and the places are free again (once the server has closed those replies)
        deadline = time.monotonic() + 20
        while True:
            other = self.queued_job()
            st = Stream(self.S, jobs_path(self.org, other["id"], "/events"), tok, timeout=60)
            self.cancel(self.org, other["id"])
            ok = st.status == 200
            if ok:
                evs = st.events()
            st.close()
            if ok:
                break
            self.assertLess(time.monotonic(), deadline, "the 256 places were not given back")
            time.sleep(0.2)
        self.assertEqual(evs[-1]["event"], "end")

    @classmethod
    def tearDownClass(cls):
        # a job queued behind the big import, for the module's tear-down to wait on
        r = cls.S.request("POST", cls.org.users + "/import", raw="email\n%s\n" % unique_email("end"),
                          token=cls.org.token("admin"), content_type="text/csv")
        if r.status == 202 and r.body["state"] == "queued":
            _module["queued_at_end"] = (cls.org, r.body)


if __name__ == "__main__":
    import unittest
    unittest.main()
