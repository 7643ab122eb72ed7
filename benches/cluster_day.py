#!/usr/bin/env python3
"""Writes the "cluster day" bench scenario (issue 18, P4): a production-sized cluster over a day.

    benches/cluster_day.py OUT_DIR [--nodes 1000] [--hours 24] [--seed 1]

For --nodes N (default 1 000) it writes OUT_DIR/scenario.yaml, manifests.yaml and diurnal.csv:

- N nodes at t = 0 in two pools over three zones: two thirds on-demand (m5.xlarge-like, 0.192
  USD/h, random machine failures with a 30-day MTBF) and one third spot (0.07 USD/h, a spot
  interruption every 48 h per node on average), each allowed to grow to 2 N / 3 and 2 N / 3;
- the Cluster Autoscaler with the price expander;
- N / 10 Deployments, each with a Service and a CPU HPA (min 10, max 150, 60 %): a quarter of
  them with a PodDisruptionBudget, a third with a DoNotSchedule zone topology spread;
- a diurnal rate series (100 -> 1 000 -> 100 % of a tenth of the peak over the day) scaled per
  Service, so that the whole cluster peaks at about N requests/s and 10 N pods — about 54 M
  requests for the 1 000-node day.

With --karpenter the node groups and the Cluster Autoscaler give way to one Karpenter NodePool
(instance categories c, m and r, spot and on-demand, the same three zones, consolidation
WhenEmptyOrUnderutilized with Karpenter's defaults, the same provisioning time and spot
interruptions): the cluster starts with the nodes Karpenter launches for the first pods.

Only the standard library is used; the output is a function of the arguments alone.
"""

import argparse
import math
from pathlib import Path

POD_CPU = "250m"
POD_MEMORY = "512Mi"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def diurnal_csv(hours: int) -> str:
    """`t_seconds,rate`: a relative rate every 5 minutes, 0.1 at midnight to 1.0 at noon."""
    rows = ["t_seconds,rate"]
    for step in range(hours * 12 + 1):
        t = step * 300
        phase = 2 * math.pi * (t % 86400) / 86400
        rows.append(f"{t},{0.55 - 0.45 * math.cos(phase):.4f}")
    return "\n".join(rows) + "\n"


def deployment(i: int) -> str:
    name = f"svc-{i:03d}"
    spread = ""
    if i % 3 == 0:
        spread = f"""
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          labelSelector: {{matchLabels: {{app: {name}}}}}"""
    text = f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}, tier: api}}}}
spec:
  replicas: 10
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}, tier: api}}}}
    spec:{spread}
      containers:
        - name: app
          image: registry.example.com/{name}:1.0
          resources:
            requests: {{cpu: {POD_CPU}, memory: {POD_MEMORY}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 10
  maxReplicas: 150
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}
"""
    if i % 4 == 1:
        budget = "minAvailable: 80%" if i % 8 == 1 else "maxUnavailable: 1"
        text += f"""---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}}}
spec:
  {budget}
  selector: {{matchLabels: {{app: {name}}}}}
"""
    return text


KARPENTER_MANIFESTS = """---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec: {role: KarpenterNodeRole}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
        - {key: topology.kubernetes.io/zone, operator: In, values: [%s]}
""" % ", ".join(ZONES)


def karpenter_cluster() -> str:
    """The `cluster` and `karpenter` blocks of the --karpenter variant."""
    return """  cluster: {}
  karpenter:
    provisioningTime: {logNormal: {mean: 90s, cv: 0.3}}
    spotInterruptionMTBI: 48h
"""


def scenario(nodes: int, hours: int, seed: int, karpenter: bool = False) -> str:
    services = max(1, nodes // 10)
    # Each Service peaks at 10 req/s x its weight (0.5 .. 1.5, mean 1): the cluster at about
    # `nodes` req/s. 1.5 s of CPU per request on a 250m pod held at 60 %: 0.1 req/s per pod,
    # so about 10 pods per Service per req/s, 10 x `nodes` pods at the peak.
    workloads = []
    traffic = []
    for i in range(services):
        name = f"svc-{i:03d}"
        weight = 0.5 + (i * 37 % 101) / 100
        workloads.append(
            f"    - {{deployment: {name}, startupTime: {{logNormal: {{mean: 20s, cv: 0.3}}}}, "
            f"cpuPerRequest: {{logNormal: {{mean: 1500ms, cv: 0.5}}}}, concurrency: 4, "
            f"queueLimit: 50, timeout: 30s}}"
        )
        traffic.append(
            f"    - {{service: {name}, arrivals: {{rateSeries: {{file: diurnal.csv, "
            f"scale: {10 * weight:.2f}}}}}}}"
        )
    return f"""# Generated by benches/cluster_day.py --nodes {nodes} --hours {hours} --seed {seed}
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: cluster-day-{nodes}
  description: {nodes} nodes, {services} Deployments with HPAs, {"Karpenter" if karpenter else "autoscaler"}, failures, {hours} h
spec:
  duration: {hours}h
  seed: {seed}
  manifests: [manifests.yaml]
{karpenter_cluster() if karpenter else node_groups(nodes)}  workloads:
{chr(10).join(workloads)}
  traffic:
{chr(10).join(traffic)}
"""


def node_groups(nodes: int) -> str:
    """The node groups and the Cluster Autoscaler."""
    on_demand = nodes - nodes // 3
    spot = nodes // 3
    return f"""  cluster:
    nodePools:
      - name: on-demand
        instanceType: m5.xlarge
        count: {on_demand}
        minCount: {max(1, on_demand // 10)}
        maxCount: {2 * on_demand}
        zones: [{", ".join(ZONES)}]
        allocatable: {{cpu: 3920m, memory: 14Gi, pods: 58}}
        pricePerHour: 0.192
        provisioningTime: {{logNormal: {{mean: 90s, cv: 0.3}}}}
        failures: {{mtbf: 720h, repairTime: {{logNormal: {{mean: 30m, cv: 0.5}}}}}}
      - name: spot
        instanceType: m5.xlarge
        count: {spot}
        minCount: 0
        maxCount: {2 * max(1, spot)}
        zones: [{", ".join(ZONES)}]
        allocatable: {{cpu: 3920m, memory: 14Gi, pods: 58}}
        pricePerHour: 0.192
        capacityType: spot
        spotPricePerHour: 0.07
        spotInterruptionMTBI: 48h
        provisioningTime: {{logNormal: {{mean: 90s, cv: 0.3}}}}
  clusterAutoscaler:
    expander: price
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--karpenter", action="store_true", help="a Karpenter NodePool instead of node groups")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    services = max(1, args.nodes // 10)
    (args.out_dir / "scenario.yaml").write_text(
        scenario(args.nodes, args.hours, args.seed, args.karpenter)
    )
    manifests = "".join(deployment(i) for i in range(services))
    if args.karpenter:
        manifests += KARPENTER_MANIFESTS
    (args.out_dir / "manifests.yaml").write_text(manifests)
    (args.out_dir / "diurnal.csv").write_text(diurnal_csv(args.hours))


if __name__ == "__main__":
    main()
