"""Validation of Jobs, CronJobs and DaemonSets as the API server words it, with the fix."""

from __future__ import annotations

from localsvc.model.ignored import strict_report
from localsvc.model.load import load_text
from localsvc.model.validate import validate


def problems(text: str) -> list[str]:
    loaded = load_text(text, "b.yaml")
    assert loaded.skipped == [] and loaded.problems == []
    return [str(p) for p in validate(loaded.manifests)]


def job(spec: str = "", policy: str = "Never", kind: str = "Job") -> str:
    return f"""apiVersion: batch/v1
kind: {kind}
metadata: {{name: j}}
spec:
{spec}  template:
    metadata: {{labels: {{app: j}}}}
    spec:
      restartPolicy: {policy}
      containers: [{{name: c, image: demo}}]
"""


def cronjob(spec: str, name: str = "c") -> str:
    return f"""apiVersion: batch/v1
kind: CronJob
metadata: {{name: {name}}}
spec:
{spec}  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{{name: c, image: demo}}]
"""


def daemonset(spec: str = "", labels: str = "{app: d}", policy: str = "Always") -> str:
    return f"""apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: d}}
spec:
  selector: {{matchLabels: {{app: d}}}}
{spec}  template:
    metadata: {{labels: {labels}}}
    spec:
      restartPolicy: {policy}
      containers: [{{name: c, image: demo}}]
"""


def test_a_plain_job_is_valid() -> None:
    assert problems(job("  completions: 3\n  parallelism: 2\n  backoffLimit: 1\n")) == []
    assert problems(job(policy="OnFailure")) == []


def test_job_restart_policy_is_on_failure_or_never() -> None:
    (found,) = problems(job(policy="Always"))
    assert "spec.template.spec.restartPolicy" in found and '"OnFailure", "Never"' in found
    (missing,) = problems(job().replace("      restartPolicy: Never\n", ""))
    assert "spec.template.spec.restartPolicy: required" in missing


def test_job_counts_and_deadlines() -> None:
    found = problems(job("  completions: -1\n  backoffLimit: -2\n  activeDeadlineSeconds: 0\n"))
    assert [p.split(": ")[2] for p in found] == [
        "spec.completions", "spec.backoffLimit", "spec.activeDeadlineSeconds"]


def test_indexed_jobs_need_completions_and_per_index_limits_are_refused() -> None:
    assert problems(job("  completionMode: Indexed\n  completions: 3\n")) == []
    (found,) = problems(job("  completionMode: Indexed\n"))
    assert "spec.completions: required when completionMode is Indexed" in found
    (per_index,) = problems(job("  completionMode: Indexed\n  completions: 3\n"
                                "  backoffLimitPerIndex: 1\n"))
    assert "spec.backoffLimitPerIndex: not supported by localsvc" in per_index


def test_a_selector_is_generated_unless_manual() -> None:
    (found,) = problems(job("  selector: {matchLabels: {app: j}}\n"))
    assert "`selector` not auto-generated" in found and "manualSelector: true" in found
    assert problems(job("  manualSelector: true\n  selector: {matchLabels: {app: j}}\n")) == []
    (mismatch,) = problems(job("  manualSelector: true\n  selector: {matchLabels: {app: x}}\n"))
    assert "does not match template `labels`" in mismatch
    # The generated one, read back and written again by kubectl apply or edit, is accepted.
    assert problems(job("  selector: {matchLabels: "
                        "{batch.kubernetes.io/controller-uid: 1234}}\n")) == []


def test_cronjob_schedule_time_zone_and_policy() -> None:
    assert problems(cronjob('  schedule: "*/5 * * * *"\n  timeZone: Europe/Berlin\n')) == []
    assert problems(cronjob("  schedule: '@hourly'\n")) == []
    (tz,) = problems(cronjob('  schedule: "CRON_TZ=UTC 0 * * * *"\n'))
    assert "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" in tz
    (zone,) = problems(cronjob('  schedule: "0 * * * *"\n  timeZone: Mars/Olympus\n'))
    assert 'unknown time zone "Mars/Olympus"' in zone
    (fields,) = problems(cronjob('  schedule: "0 * * *"\n'))
    assert "expected exactly 5 fields, found 4" in fields
    (bad,) = problems(cronjob('  schedule: "61 * * * *"\n'))
    assert "spec.schedule" in bad and "invalid schedule" in bad
    (policy,) = problems(cronjob('  schedule: "0 * * * *"\n  concurrencyPolicy: Sometimes\n'))
    assert "spec.concurrencyPolicy" in policy
    (long_name,) = problems(cronjob('  schedule: "0 * * * *"\n', name="c" * 53))
    assert "no more than 52 characters" in long_name


def test_cronjob_job_template_is_checked_as_a_job() -> None:
    text = cronjob('  schedule: "0 * * * *"\n').replace("OnFailure", "Always")
    (found,) = problems(text)
    assert "spec.jobTemplate.spec.template.spec.restartPolicy" in found


def test_daemonset_rules() -> None:
    assert problems(daemonset()) == []
    (labels,) = problems(daemonset(labels="{app: x}"))
    assert "does not match template `labels`" in labels
    (policy,) = problems(daemonset(policy="Never"))
    assert 'must be "Always" for a DaemonSet' in policy
    (zero,) = problems(daemonset("  updateStrategy: {rollingUpdate: {maxSurge: 0, "
                                 "maxUnavailable: 0}}\n"))
    assert "may not be 0 when maxSurge is 0" in zero
    (on_delete,) = problems(daemonset("  updateStrategy: {type: OnDelete, rollingUpdate: "
                                      "{maxUnavailable: 1}}\n"))
    assert "may not be specified when strategy `type` is 'OnDelete'" in on_delete


def test_strict_lists_what_is_accepted_but_not_run() -> None:
    text = job("  podFailurePolicy: {rules: []}\n  backoffLimit: 2\n") + "---\n" + \
        cronjob('  schedule: "0 * * * *"\n') + "---\n" + \
        daemonset("  updateStrategy: {type: OnDelete}\n").replace(
            "      restartPolicy: Always\n", "      restartPolicy: Always\n      tolerations: []\n")
    loaded = load_text(text, "b.yaml")
    report = strict_report(loaded.manifests)
    assert [line.split(": ")[2] for line in report] == [
        "spec.podFailurePolicy", "spec.template.spec.tolerations"]
