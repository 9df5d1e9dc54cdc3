"""Cluster add-ons: one module per add-on, owning its pinned version, its IAM and its values.

EKS managed add-ons (vpc-cni, coredns, kube-proxy, eks-pod-identity-agent, metrics-server) are
`AWS::EKS::Addon` resources; the controllers (AWS Load Balancer Controller, External Secrets,
Cluster Autoscaler) are Helm charts installed by CDK's kubectl Lambda at deploy time. Controllers
get AWS credentials through EKS Pod Identity, never from the node role or instance metadata.
"""
