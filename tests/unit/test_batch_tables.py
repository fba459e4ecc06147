"""kubectl 1.32's columns for Jobs, CronJobs and DaemonSets (model/kubeapi/batchtables.py)."""

from __future__ import annotations

from localsvc.model.kubeapi.tables import table

NOW = 1_800_000_000.0
CREATED = "2027-01-15T07:58:20Z"  # NOW - 100 s
CONTAINERS = [{"name": "work", "image": "demo:1"}]


def cells(kind: str, obj: dict[str, object]) -> list[object]:
    return list(table(kind, [obj], NOW)["rows"][0]["cells"])


def names(kind: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in table(kind, [], NOW)["columnDefinitions"]]


def test_job_columns_and_rows() -> None:
    assert names("Job") == [("Name", 0), ("Status", 0), ("Completions", 0), ("Duration", 0),
                            ("Age", 0), ("Containers", 1), ("Images", 1), ("Selector", 1)]
    job = {"metadata": {"name": "m", "creationTimestamp": CREATED},
           "spec": {"completions": 3, "parallelism": 2, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"spec": {"containers": CONTAINERS}}},
           "status": {"succeeded": 3, "startTime": "2027-01-15T07:59:30Z",
                      "completionTime": "2027-01-15T07:59:42Z",
                      "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                     {"type": "Complete", "status": "True"}]}}
    assert cells("Job", job) == ["m", "Complete", "3/3", "12s", "100s", "work", "demo:1", "a=b"]
    running = {"metadata": job["metadata"], "spec": {"parallelism": 2},
               "status": {"startTime": "2027-01-15T07:59:30Z"}}
    assert cells("Job", running)[1:4] == ["Running", "0/1 of 2", "30s"]
    target = {**job, "status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}}
    assert cells("Job", target)[1:4] == ["FailureTarget", "0/3", ""]


def test_cronjob_columns_and_rows() -> None:
    assert [n for n, p in names("CronJob") if p == 0] == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"]
    cronjob = {"metadata": {"name": "c", "creationTimestamp": CREATED},
               "spec": {"schedule": "*/5 * * * *", "suspend": False,
                        "jobTemplate": {"spec": {"template": {"spec": {"containers": CONTAINERS}}}}},
               "status": {"active": [{"name": "c-1"}], "lastScheduleTime": "2027-01-15T07:59:50Z"}}
    assert cells("CronJob", cronjob) == ["c", "*/5 * * * *", "<none>", "False", 1, "10s", "100s",
                                         "work", "demo:1", "<none>"]
    never = {**cronjob, "spec": {**cronjob["spec"], "timeZone": "Europe/Berlin"}, "status": {}}
    assert cells("CronJob", never)[2:6] == ["Europe/Berlin", "False", 0, "<none>"]


def test_daemonset_columns_and_rows() -> None:
    assert [n for n, p in names("DaemonSet") if p == 0] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"]
    ds = {"metadata": {"name": "d", "creationTimestamp": CREATED},
          "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {"spec": {
              "containers": CONTAINERS, "nodeSelector": {"kubernetes.io/os": "linux"}}}},
          "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1,
                     "updatedNumberScheduled": 1, "numberAvailable": 1}}
    assert cells("DaemonSet", ds) == ["d", 1, 1, 1, 1, 1, "kubernetes.io/os=linux", "100s",
                                      "work", "demo:1", "app=d"]
