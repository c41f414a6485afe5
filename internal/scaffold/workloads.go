package scaffold

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// namespace is the application's namespace, with sidecar injection on.
func namespace(o *Options) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: typeMeta("v1", "Namespace"),
		ObjectMeta: metav1.ObjectMeta{
			Name:   o.Namespace,
			Labels: map[string]string{"istio-injection": "enabled"},
		},
	}
}

// deployment is the stable or the canary Deployment. They differ in name,
// version label, image and replicas; the version label is what the
// DestinationRule's subsets select and what Istio's metrics report as
// destination_version.
func deployment(o *Options, name, version, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": o.Name, "version": version}
	probe := func(path string, delay, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromInt32(appPort),
			}},
			InitialDelaySeconds: delay,
			PeriodSeconds:       period,
		}
	}
	annotations := map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   "8080",
		"prometheus.io/path":   "/metrics",
		// The sidecar gets the version as APP_VERSION, which the
		// access log of envoyfilter-accesslog.yaml records.
		"proxy.istio.io/config": `{"proxyMetadata": {"APP_VERSION": "` + version + `"}}`,
	}
	if o.ambient() {
		// No sidecar in ambient mode.
		delete(annotations, "proxy.istio.io/config")
	}
	return &appsv1.Deployment{
		TypeMeta: typeMeta("apps/v1", "Deployment"),
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: o.Namespace, Labels: labels,
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      labels,
					Annotations: annotations,
				},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  o.Name,
						Image: image,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
						Env:   []corev1.EnvVar{{Name: "VERSION", Value: version}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("100m"),
								corev1.ResourceMemory: resource.MustParse("128Mi"),
							},
							Limits: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("500m"),
								corev1.ResourceMemory: resource.MustParse("256Mi"),
							},
						},
						ReadinessProbe: probe("/health/ready", 5, 10),
						LivenessProbe:  probe("/health/live", 15, 20),
					}},
				},
			},
		},
	}
}

// service selects both versions: Istio splits the traffic, not the Service.
func service(o *Options) *corev1.Service {
	return &corev1.Service{
		TypeMeta: typeMeta("v1", "Service"),
		ObjectMeta: metav1.ObjectMeta{
			Name: o.Name, Namespace: o.Namespace, Labels: map[string]string{"app": o.Name},
		},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": o.Name},
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, TargetPort: intstr.FromInt32(appPort),
			}},
		},
	}
}

// versionServices are, for a split by host, the Services N-stable and
// N-canary, each selecting one version; the Service N stays the name
// clients call.
func versionServices(o *Options) stream {
	svc := func(name, version string) *corev1.Service {
		s := service(o)
		s.Name = name
		s.Labels = map[string]string{"app": o.Name, "version": version}
		s.Spec.Selector = map[string]string{"app": o.Name, "version": version}
		return s
	}
	return stream{service(o), svc(o.stableName(), stableVersion), svc(o.canaryName(), canaryVersion)}
}
