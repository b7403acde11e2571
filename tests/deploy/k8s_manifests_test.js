// Checks deploy/k8s/*.yaml offline: every object against the Kubernetes
// schemas (npm kubernetes-models), then what a schema cannot see, for each
// Deployment (the cloud tier and the fog tier both run spex-cloud): names
// that refer to other objects, ports, the probe and flag files against
// mounts and Secret keys, the pod user against the image's, and every flag
// in its ConfigMap against the flags spex-cloud really has.
//
//   NODE_PATH=<prefix>/node_modules node k8s_manifests_test.js \
//       <repo root> <spex-cloud binary>
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");
const yaml = require("js-yaml");

const [repo, cloudBinary] = process.argv.slice(2);
let failures = 0;
function check(ok, what) {
  if (!ok) {
    failures++;
    console.error("FAIL: " + what);
  }
}

// --- Load and validate every object.
const k8sDir = path.join(repo, "deploy/k8s");
const objects = [];
for (const file of fs.readdirSync(k8sDir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const doc of yaml.loadAll(fs.readFileSync(path.join(k8sDir, file), "utf8"))) {
    if (doc === null) continue;
    // kubernetes-models is laid out by API version: "v1", "apps/v1", ...
    let Model;
    try {
      Model = require("kubernetes-models/" + doc.apiVersion)[doc.kind];
    } catch (e) {
      Model = undefined;
    }
    check(Model !== undefined, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
    if (Model === undefined) continue;
    try {
      new Model(doc).validate();
      console.log(`ok   ${file}: ${doc.kind} ${doc.metadata.name}`);
    } catch (e) {
      check(false, `${file}: ${doc.kind} ${doc.metadata.name}: ${e.message}`);
    }
    objects.push(doc);
  }
}
const find = (kind, name) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const matches = (selector, labels) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const deployments = objects.filter((o) => o.kind === "Deployment");
check(deployments.length > 0, "no Deployment");
if (deployments.length === 0) process.exit(1);
// (--helpfull prints and exits with status 1, as Abseil's help does.)
const help = spawnSync(cloudBinary, ["--helpfull"], { encoding: "utf8" }).stdout;
const known = new Set([...help.matchAll(/^\s+--([a-z_0-9]+) \(/gm)].map((m) => m[1]));
check(known.size > 10, `could not read spex-cloud's flags from --helpfull (${known.size})`);
const dockerfile = fs.readFileSync(path.join(repo, "deploy/cloud/Dockerfile"), "utf8");
const imageUser = Number(dockerfile.match(/^USER (\d+)$/m)[1]);

// Every Service selects the pods of a Deployment, on ports they have.
for (const service of objects.filter((o) => o.kind === "Service")) {
  const target = deployments.find((d) =>
    matches(service.spec.selector, d.spec.template.metadata.labels));
  check(target !== undefined, `Service ${service.metadata.name} selects no pod`);
  if (target === undefined) continue;
  const ports = target.spec.template.spec.containers[0].ports.map((p) => p.name);
  for (const port of service.spec.ports) {
    check(ports.includes(port.targetPort),
          `Service ${service.metadata.name} port ${port.name}: no container port '${port.targetPort}'`);
  }
}
check(objects.some((o) => o.kind === "Service" && o.spec.clusterIP === "None"),
      "no headless Service (client-side load balancing needs one)");
for (const hpa of objects.filter((o) => o.kind === "HorizontalPodAutoscaler")) {
  const target = hpa.spec.scaleTargetRef;
  check(target.kind === "Deployment" &&
        deployments.some((d) => d.metadata.name === target.name),
        `HPA ${hpa.metadata.name} scales something else`);
  check(hpa.spec.minReplicas >= 2, "HPA allows a single replica");
}

for (const pdb of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
  check(deployments.some((d) => matches(pdb.spec.selector.matchLabels,
                                        d.spec.template.metadata.labels)),
        `PodDisruptionBudget ${pdb.metadata.name} selects no pod`);
}

for (const deployment of deployments) checkDeployment(deployment);

function checkDeployment(deployment) {
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const podLabels = pod.metadata.labels;
  const where = `Deployment ${deployment.metadata.name}`;
  check(matches(deployment.spec.selector.matchLabels, podLabels),
        `${where}: selector does not select its own pods`);

  // --- References between objects.
  const volumes = Object.fromEntries(pod.spec.volumes.map((v) => [v.name, v]));
  for (const v of pod.spec.volumes) {
    if (v.configMap) check(find("ConfigMap", v.configMap.name), `ConfigMap ${v.configMap.name} missing`);
    if (v.secret) check(find("Secret", v.secret.secretName), `Secret ${v.secret.secretName} missing`);
    if (v.persistentVolumeClaim) {
      check(find("PersistentVolumeClaim", v.persistentVolumeClaim.claimName),
            `PVC ${v.persistentVolumeClaim.claimName} missing`);
    }
  }
  const portNames = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));

  // --- Files the flags and the probes name: under a mount, and (for the
  // Secret) one of its keys.
  function fileSource(file) {
    for (const mount of container.volumeMounts) {
      if (!file.startsWith(mount.mountPath + "/")) continue;
      const key = file.slice(mount.mountPath.length + 1);
      const volume = volumes[mount.name];
      if (volume.configMap) return { kind: "ConfigMap", obj: find("ConfigMap", volume.configMap.name), key };
      if (volume.secret) return { kind: "Secret", obj: find("Secret", volume.secret.secretName), key };
      return { kind: "volume", key };
    }
    return undefined;
  }
  function checkFile(file, who) {
    const source = fileSource(file);
    check(source !== undefined, `${who}: ${file} is under no volume mount`);
    if (source === undefined || source.obj === undefined) return;
    const keys = Object.keys({ ...(source.obj.data || {}), ...(source.obj.stringData || {}) });
    check(keys.includes(source.key), `${who}: ${source.kind} ${source.obj.metadata.name} has no key '${source.key}'`);
  }
  const flagfileArg = container.args.find((a) => a.startsWith("--flagfile="));
  check(flagfileArg !== undefined, `${where}: spex-cloud is not given a flagfile`);
  const flagfile = flagfileArg.slice("--flagfile=".length);
  checkFile(flagfile, "--flagfile");
  const flagSource = fileSource(flagfile);
  const flagText = flagSource.obj.data[flagSource.key];
  const flags = flagText.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const flagValues = {};
  for (const flag of flags) {
    const m = flag.match(/^--([a-z_0-9]+)=(.*)$/);
    check(m !== null, `flagfile line '${flag}' is not --name=value`);
    if (m === null) continue;
    check(known.has(m[1]), `flagfile: spex-cloud has no flag --${m[1]}`);
    flagValues[m[1]] = m[2];
  }
  for (const name of ["tls_cert", "tls_key", "tls_client_ca", "token_file", "next_ca",
                      "next_cert", "next_key", "next_token_file"]) {
    if (name in flagValues) checkFile(flagValues[name], "--" + name);
  }
  check(fileSource(flagValues.model_dir + "/x") !== undefined, "--model_dir is not a mounted volume");
  const listenPort = Number(flagValues.listen.split(":").pop());
  const metricsPort = Number(flagValues.metrics_listen.split(":").pop());
  check(portNames.grpc === listenPort, `container port grpc ${portNames.grpc} != --listen port ${listenPort}`);
  check(portNames.metrics === metricsPort, `container port metrics != --metrics_listen port ${metricsPort}`);
  const annotations = pod.metadata.annotations;
  check(annotations["prometheus.io/scrape"] === "true", "pods are not marked for scraping");
  check(Number(annotations["prometheus.io/port"]) === metricsPort, "scrape annotation names another port");

  for (const [name, probe] of [["readiness", container.readinessProbe], ["liveness", container.livenessProbe]]) {
    check(probe !== undefined, `no ${name} probe`);
    if (probe === undefined) continue;
    const command = probe.exec.command;
    check(command[0] === "spex-health", `${name} probe is not spex-health`);
    const probeFlags = Object.fromEntries(command.slice(1).map((a) => a.replace(/^--/, "").split("=")));
    check(Number(probeFlags.target.split(":").pop()) === listenPort, `${name} probe asks another port`);
    if ("tls_cert" in flagValues) check("ca" in probeFlags, `${name} probe talks plain text to a TLS server`);
    if ("ca" in probeFlags) checkFile(probeFlags.ca, `${name} probe --ca`);
  }

  // --- Security context: non-root, the image's own user.
  check(pod.spec.securityContext.runAsNonRoot === true, "pods may run as root");
  check(pod.spec.securityContext.runAsUser === imageUser,
        `runAsUser ${pod.spec.securityContext.runAsUser} is not the image's user ${imageUser}`);
  check(container.securityContext.allowPrivilegeEscalation === false, "privilege escalation allowed");
  check(container.resources.requests && container.resources.limits, "no resource requests and limits");
}

if (failures > 0) {
  console.error(`${failures} problem(s) in deploy/k8s`);
  process.exit(1);
}
console.log(`deploy/k8s: ${objects.length} objects valid and consistent`);
