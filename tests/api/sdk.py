"""The Python Docker SDK (Debian's python3-docker) against berth's API service: containers,
images, networks and volumes through the SDK's own calls. DOCKER_HOST names the service."""
import sys
import time

import docker

c = docker.from_env(timeout=60)
assert c.ping()
v = c.version()
assert v["ApiVersion"] >= "1.41", v

# Containers: run to completion, run detached, logs, exec, wait, remove.
out = c.containers.run("busybox", ["sh", "-c", "echo sdk-out; echo sdk-err >&2"], remove=True, stderr=True)
assert b"sdk-out" in out and b"sdk-err" in out, out
ctr = c.containers.run("busybox", ["sh", "-c", "echo ready; sleep 60"], detach=True, name="sdk-ctr",
                       labels={"suite": "sdk"}, environment={"GREETING": "hi"})
ctr.reload()
assert ctr.status == "running", ctr.status
assert [x.name for x in c.containers.list(filters={"label": "suite=sdk"})] == ["sdk-ctr"]
code, output = ctr.exec_run(["sh", "-c", "echo $GREETING from exec; exit 3"])
assert code == 3 and output == b"hi from exec\n", (code, output)
# A detached exec is followed to its end (its output, a lot on stderr here, discarded).
eid = c.api.exec_create(ctr.id, ["sh", "-c", "head -c 1000000 /dev/zero >&2; sleep 0.3; exit 5"])["Id"]
assert c.api.exec_start(eid, detach=True) in (b"", "")
for _ in range(100):
    info = c.api.exec_inspect(eid)
    if not info["Running"]:
        break
    time.sleep(0.1)
assert (info["Running"], info["ExitCode"]) == (False, 5), info
# One that cannot start is an error of the start, not a success.
eid = c.api.exec_create(ctr.id, ["/no/such/program"])["Id"]
try:
    c.api.exec_start(eid, detach=True)
    raise AssertionError("a detached exec of a missing program started")
except docker.errors.APIError as e:
    assert "/no/such/program" in str(e), e
for _ in range(50):
    if b"ready" in ctr.logs():
        break
assert ctr.logs() == b"ready\n", ctr.logs()
ctr.stop(timeout=1)
assert ctr.wait()["StatusCode"] in (137, 143)
ctr.remove()

# attach with logs: what was written before the attach (stream=0: that alone), then the
# rest, to the end.
late = c.containers.run("busybox", ["sh", "-c", "echo early; until [ -e /go ]; do sleep 0.1; done; echo late >&2"],
                        detach=True)
for _ in range(100):
    if late.logs() == b"early\n":
        break
    time.sleep(0.1)
past = late.attach(stdout=True, stderr=True, logs=True)
assert past == b"early\n", past
stream = late.attach(stdout=True, stderr=True, logs=True, stream=True)
late.exec_run(["touch", "/go"])
out = b"".join(stream)
assert out == b"early\nlate\n", out
assert late.wait()["StatusCode"] == 0
late.remove()

# Images: list, inspect, tag, remove the tag.
img = c.images.get("busybox")
assert any("busybox" in t for t in img.tags), img.tags
img.tag("localhost/sdk-tag", "v1")
assert "localhost/sdk-tag:v1" in c.images.get("localhost/sdk-tag:v1").tags
c.images.remove("localhost/sdk-tag:v1")

# Networks: create, containers on it find each other by name, remove.
net = c.networks.create("sdk-net", labels={"suite": "sdk"})
srv = c.containers.run("busybox", ["sleep", "60"], detach=True, name="sdk-srv", network="sdk-net")
code, output = c.containers.run("busybox", ["ping", "-c1", "-W2", "sdk-srv"], network="sdk-net",
                                remove=True), 0
assert b"1 packets received" in code, code
assert [n.name for n in c.networks.list(names=["sdk-net"])] == ["sdk-net"]
srv.remove(force=True)
net.remove()

# Volumes: data kept across containers, then removed.
vol = c.volumes.create("sdk-vol", labels={"suite": "sdk"})
c.containers.run("busybox", ["sh", "-c", "echo kept > /v/f"], volumes={"sdk-vol": {"bind": "/v"}}, remove=True)
assert c.containers.run("busybox", ["cat", "/v/f"], volumes={"sdk-vol": {"bind": "/v"}}, remove=True) == b"kept\n"
assert c.volumes.get("sdk-vol").attrs["Labels"] == {"suite": "sdk"}
vol.remove()

# Errors come back as docker's exceptions.
try:
    c.containers.get("no-such-container")
    sys.exit("a missing container was found")
except docker.errors.NotFound:
    pass
print("sdk: ok")
