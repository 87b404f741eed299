"""A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages ended by NUL on descriptors 3 and 4), so that one browser keeps the status page
open, polling as an operator's would, while the test reads its DOM and takes screenshots."""
import base64
import fcntl
import json
import os
import select
import subprocess
import time


def high_fd(fd):
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    def __init__(self, prefix, profile_dir, url, log):
        # The browser reads descriptor 3 and writes 4; a shell puts the pipes' ends there.
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child's ends above 4, so that the shell's redirections cannot close what they set.
        to_browser_r, from_browser_w = (high_fd(to_browser_r), high_fd(from_browser_w))
        env = dict(os.environ, HOME=profile_dir, XDG_CONFIG_HOME=profile_dir + "/config",
                   XDG_CACHE_HOME=profile_dir + "/cache")
        # Root needs --no-sandbox; nothing here has a GPU or a session bus.
        chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--remote-debugging-pipe", "--user-data-dir=" + profile_dir + "/profile",
                    "--window-size=1100,1250", "--hide-scrollbars", url]
        shell = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.proc = subprocess.Popen(prefix + ["bash", "-c", shell, "bash"] + chromium,
                                     pass_fds=(to_browser_r, from_browser_w), stdout=log, stderr=log, env=env)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events = []  # events that arrived while a call waited for its reply
        self.session = None
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        except BaseException:
            self.close()
            raise

    def _read_message(self):
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if "method" in reply:
                self._events.append(reply)
            elif reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def event(self, method, seconds):
        """The next event named method (its params), waiting at most seconds; None if none came."""
        deadline = time.monotonic() + seconds
        while True:
            for i, e in enumerate(self._events):
                if e["method"] == method:
                    return self._events.pop(i)["params"]
            self._events.clear()
            if time.monotonic() > deadline:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            if ready or b"\0" in self._buffer:
                self._events.append(self._read_message())

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def viewport(self, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


# What the test reads from the page: the facts its DOM shows, nothing of its internals.
FACTS_JS = r"""JSON.stringify({
  updated: document.body.dataset.updated || null,
  freshness: document.getElementById('freshness').dataset.state,
  reals: [...document.querySelectorAll('tr.real')].map(r => ({
    real: r.dataset.real, health: r.dataset.health,
    points: Number((r.querySelector('svg.spark') || {dataset: {}}).dataset.points || 0),
    rate: Number(r.dataset.pps || 0)})),
  instances: [...document.querySelectorAll('div.instance')].map(i => ({name: i.dataset.instance, state: i.dataset.state})),
  events: [...document.querySelectorAll('li.event')].map(e => ({
    kind: e.dataset.kind, subject: e.dataset.subject, text: e.querySelector('.text').textContent})),
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth
})"""


def facts(browser):
    return json.loads(browser.evaluate(FACTS_JS))


def wait_for(browser, predicate, seconds, poll=0.25):
    """The page's facts once predicate(facts) holds, and the seconds it took; (last facts, None) if never."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < seconds:
        last = facts(browser)
        if predicate(last):
            return last, time.monotonic() - start
        time.sleep(poll)
    return last, None
