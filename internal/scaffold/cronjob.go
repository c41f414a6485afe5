package scaffold

import (
	"path"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The in-cluster runner: deploy/promoter.
const (
	promoterNamespace = "promoter"
	promoterName      = "promoter"
	// credentialsSecret holds the tokens; it is created by hand (see
	// deploy/README.md), never committed.
	credentialsSecret = "promoter-credentials"
)

func addCronJob(o *Options, add func(string, any, string, Comments) error) error {
	dir := "deploy/promoter"
	ns := &corev1.Namespace{
		TypeMeta:   typeMeta("v1", "Namespace"),
		ObjectMeta: metav1.ObjectMeta{Name: promoterNamespace},
	}
	no := false
	sa := &corev1.ServiceAccount{
		TypeMeta:                     typeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   metav1.ObjectMeta{Name: promoterName, Namespace: promoterNamespace},
		AutomountServiceAccountToken: &no,
	}
	for _, r := range []struct {
		file   string
		v      any
		header string
	}{
		{"namespace.yaml", ns, ""},
		{"serviceaccount.yaml", sa, "promoter never talks to the Kubernetes API: its ServiceAccount has no token\nmounted and no Role or RoleBinding. It needs Git and Prometheus only."},
		{"cronjob.yaml", cronJob(o), "One promoter pass every 5 minutes. Each run is a pure function of Git, the forge,\nPrometheus and the clock, so a killed run is simply carried on by the next one."},
	} {
		if err := add(path.Join(dir, r.file), r.v, r.header, nil); err != nil {
			return err
		}
	}
	k := newKustomization("namespace.yaml", "serviceaccount.yaml", "cronjob.yaml")
	return add(path.Join(dir, "kustomization.yaml"), k, "", nil)
}

func cronJob(o *Options) *batchv1.CronJob {
	no, yes := false, true
	var (
		backoff  int32 = 0
		history  int32 = 3
		deadline int64 = 240
		starting int64 = 300
		uid      int64 = 65532 // distroless "nonroot"
	)
	fromSecret := func(name, key string, optional bool) corev1.EnvVar {
		ref := &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: credentialsSecret}, Key: key}
		if optional {
			ref.Optional = &yes
		}
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: ref}}
	}
	labels := map[string]string{"app.kubernetes.io/name": promoterName}
	podLabels := map[string]string{
		"app.kubernetes.io/name": promoterName,
		// A sidecar would keep the Job's pod from ever completing.
		"sidecar.istio.io/inject": "false",
	}
	return &batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: metav1.ObjectMeta{Name: promoterName, Namespace: promoterNamespace, Labels: labels},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "*/5 * * * *",
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    &starting,
			SuccessfulJobsHistoryLimit: &history,
			FailedJobsHistoryLimit:     &history,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit:          &backoff,
				ActiveDeadlineSeconds: &deadline,
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec: corev1.PodSpec{
						ServiceAccountName:           promoterName,
						AutomountServiceAccountToken: &no,
						RestartPolicy:                corev1.RestartPolicyNever,
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot:   &yes,
							RunAsUser:      &uid,
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name:  promoterName,
							Image: o.PromoterImage,
							Args: []string{
								"run",
								"--repo", o.GitURL,
								"--branch", o.Branch,
								"--prometheus", o.PrometheusURL,
								"--log-format", "json",
							},
							Env: []corev1.EnvVar{
								fromSecret("GIT_TOKEN", "git-token", false),
								// The github forge (github.com remotes) reads the same token.
								fromSecret("GITHUB_TOKEN", "git-token", false),
								fromSecret("PROMETHEUS_TOKEN", "prometheus-token", true),
								fromSecret("SLACK_WEBHOOK_URL", "slack-webhook-url", true),
								{Name: "HOME", Value: "/tmp"},
							},
							Resources: corev1.ResourceRequirements{
								// A pass that clones a large repository peaks at
								// 501-618 MB (the scale benchmark's 10 to 1,000
								// progressing canaries, docs/benchmarks.md): the request
								// covers the peak, the limit leaves 70% above it.
								Requests: corev1.ResourceList{
									corev1.ResourceCPU:    resource.MustParse("100m"),
									corev1.ResourceMemory: resource.MustParse(cronJobMemoryRequest),
								},
								Limits: corev1.ResourceList{
									corev1.ResourceMemory: resource.MustParse(cronJobMemoryLimit),
								},
							},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: &no,
								ReadOnlyRootFilesystem:   &yes,
								Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
							VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
						}},
						Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
					},
				},
			}},
		},
	}
}

// The CronJob's memory: the scale benchmark's largest measured peak (618 MB
// = 589 MiB, a pass over 1,000 canaries with 1,000 progressing) with margin.
const (
	cronJobMemoryRequest = "640Mi"
	cronJobMemoryLimit   = "1Gi"
)
