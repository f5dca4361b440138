/**
 * deploy/kubernetes/*.yaml validated offline against the Kubernetes API schemas (the
 * kubernetes-models package: the OpenAPI schemas of the API server as JSON-schema
 * validators). Not run on a cluster here. Also checks what the schemas cannot: every object
 * in the ringfaas namespace, probes on /healthz with resources on every ringfaas container,
 * the worker's preStop drain, the privileged engine stated, secrets only from the Secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';

const dir = join(import.meta.dirname, '..', 'kubernetes');

interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': core.Namespace,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'apps/v1/Deployment': apps.Deployment,
  'apps/v1/StatefulSet': apps.StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
};

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.join('; ')}`);
      const value = doc.toJS() as Manifest | null;
      if (value !== null) out.push({ ...value, file });
    }
  }
  return out;
}

interface Container {
  name: string;
  image: string;
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: { privileged?: boolean };
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
}

function podContainers(m: Manifest): Container[] {
  const template = (m.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template;
  return template?.spec?.containers ?? [];
}

test('every Kubernetes manifest validates against the API schema of its kind', () => {
  const all = manifests();
  assert.ok(all.length >= 10, `found ${all.length} objects`);
  for (const m of all) {
    const Model = models[`${m.apiVersion}/${m.kind}`];
    assert.ok(Model !== undefined, `${m.file}: no schema known for ${m.apiVersion} ${m.kind}`);
    const { file: _file, ...data } = m;
    assert.doesNotThrow(() => new Model(data as never).validate(), `${m.file}: ${m.kind} ${m.metadata.name}`);
    if (m.kind !== 'Namespace') assert.equal(m.metadata.namespace, 'ringfaas', `${m.file}: ${m.kind} ${m.metadata.name} namespace`);
  }
});

test('an invalid object fails the same validation (the check is not vacuous)', () => {
  const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two', selector: {}, template: {} } };
  assert.throws(() => new apps.Deployment(bad as never).validate());
});

test('routers: Deployment, Service, autoscaler and disruption budget; workers with an engine beside each and a preStop drain', () => {
  const all = manifests();
  const find = (kind: string, name: string): Manifest => {
    const m = all.find((x) => x.kind === kind && x.metadata.name === name);
    assert.ok(m !== undefined, `${kind} ${name} exists`);
    return m;
  };
  find('Service', 'ringfaas-router');
  const hpa = find('HorizontalPodAutoscaler', 'ringfaas-router');
  assert.deepEqual((hpa.spec as { scaleTargetRef: unknown }).scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ringfaas-router' });
  find('PodDisruptionBudget', 'ringfaas-router');
  find('PodDisruptionBudget', 'ringfaas-worker');

  const router = podContainers(find('Deployment', 'ringfaas-router'));
  const worker = find('StatefulSet', 'ringfaas-worker');
  const [workerContainer, dind] = [podContainers(worker).find((c) => c.name === 'worker'), podContainers(worker).find((c) => c.name === 'dind')];
  assert.ok(workerContainer !== undefined && dind !== undefined);
  for (const c of [...router, workerContainer]) {
    assert.equal(c.readinessProbe?.httpGet?.path, '/healthz', `${c.name} readiness`);
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${c.name} liveness`);
  }
  for (const c of [...router, ...podContainers(worker)]) {
    assert.ok(c.resources?.requests?.memory !== undefined && c.resources?.limits?.memory !== undefined, `${c.name} resources`);
  }
  assert.ok(workerContainer.lifecycle?.preStop?.exec?.command.some((part) => part.endsWith('deploy/drain.js')), 'worker preStop drains');
  assert.equal(dind.securityContext?.privileged, true, 'the engine sidecar is privileged, and the file says so');
  assert.match(readFileSync(join(dir, '20-worker.yaml'), 'utf8'), /PRIVILEGE, PLAINLY/);
  // Keys come from the Secret, never written in a container's env.
  for (const c of [...router, workerContainer]) {
    for (const name of ['RINGFAAS_API_KEYS', 'RINGFAAS_CLUSTER_KEY', 'RINGFAAS_STORAGE_CONNECTION_STRING']) {
      const e = c.env?.find((x) => x.name === name);
      if (e !== undefined) assert.equal(e.valueFrom?.secretKeyRef?.name, 'ringfaas', `${c.name} ${name} from the Secret`);
    }
    assert.ok(c.env?.some((x) => x.name === 'RINGFAAS_CLUSTER_KEY'), `${c.name} gets the cluster key`);
  }
  assert.ok(!workerContainer.env?.some((x) => x.name === 'RINGFAAS_API_KEYS'), 'workers never receive the API keys');
});
