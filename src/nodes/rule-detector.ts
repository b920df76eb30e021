/**
 * Glue of the `rule-detector` node: config → {@link RuleDetector}, one output message per anomaly,
 * status.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { assertWindowMessage, type Scope } from '../core/contracts';
import { RuleDetector, type DetectorOptions } from '../core/rules';
import { configNumber, errorMessage, rejectInput, statusError, statusOk, statusWarn } from './glue';

interface RuleDetectorNodeDef extends NodeDef {
  dualEwma: boolean;
  fastMultiplier: string;
  slowMultiplier: string;
  spike: boolean;
  highSigma: string;
  mediumSigma: string;
  portScan: boolean;
  scanSyns: string;
  scanPorts: string;
  /** Port-scan window, seconds. */
  scanWindowSeconds: string;
  bootstrapStatic: boolean;
  staticPps: string;
  /** Static bit-rate threshold, Mbit/s. */
  staticMbps: string;
  staticSynPerSecond: string;
  scopeInterface: boolean;
  scopeDstHost: boolean;
  scopeSrcHost: boolean;
  scopeFlow: boolean;
}

const NUM = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export = function (RED: NodeAPI): void {
  function RuleDetectorNode(this: Node, config: RuleDetectorNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;

    const scopes: Scope[] = [];
    if (config.scopeInterface !== false) scopes.push('interface');
    if (config.scopeDstHost !== false) scopes.push('dstHost');
    if (config.scopeSrcHost !== false) scopes.push('srcHost');
    if (config.scopeFlow === true) scopes.push('flow');
    const options: DetectorOptions = {
      dualEwma: { enabled: config.dualEwma !== false, fastMultiplier: configNumber(config.fastMultiplier, 3), slowMultiplier: configNumber(config.slowMultiplier, 5) },
      spike: { enabled: config.spike !== false, highSigma: configNumber(config.highSigma, 3), mediumSigma: configNumber(config.mediumSigma, 2) },
      portScan: {
        enabled: config.portScan !== false,
        minSyns: configNumber(config.scanSyns, 100),
        minPorts: configNumber(config.scanPorts, 20),
        windowMs: configNumber(config.scanWindowSeconds, 60) * 1000,
      },
      bootstrapStatic: {
        enabled: config.bootstrapStatic !== false,
        packetsPerSecond: configNumber(config.staticPps, 10_000),
        bitsPerSecond: configNumber(config.staticMbps, 100) * 1e6,
        synPerSecond: configNumber(config.staticSynPerSecond, 100),
      },
      scopes,
    };

    let detector: RuleDetector;
    try {
      detector = new RuleDetector(options);
    } catch (err) {
      node.error(`rule-detector: bad configuration: ${errorMessage(err)}`);
      node.status(statusError(`config: ${errorMessage(err)}`));
      node.on('input', (_msg: NodeMessageInFlow, _send: unknown, done: (err?: Error) => void) => {
        done(new Error(`rule-detector is not configured correctly: ${errorMessage(err)}`));
      });
      return;
    }

    let windows = 0;
    let anomalies = 0;

    node.on('input', (msg: NodeMessageInFlow & { reset?: unknown }, send: (m: Array<NodeMessage | NodeMessage[] | null>) => void, done: (err?: Error) => void) => {
      try {
        if (msg.reset === true) {
          detector.reset();
          node.status(statusOk('port-scan state cleared'));
          done();
          return;
        }
        assertWindowMessage(msg.payload);
        const events = detector.evaluate(msg.payload);
        windows++;
        anomalies += events.length;
        if (events.length > 0) {
          send([events.map((e) => ({ topic: e.key, payload: e }) as NodeMessage)]);
          const last = events[events.length - 1]!;
          node.status(statusWarn(`${NUM.format(events.length)} anomal${events.length === 1 ? 'y' : 'ies'} · last: ${last.key}`));
        } else {
          node.status(statusOk(`${NUM.format(windows)} window${windows === 1 ? '' : 's'} evaluated · ${NUM.format(anomalies)} anomalies`));
        }
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      detector.reset();
      done();
    });
  }
  RED.nodes.registerType('rule-detector', RuleDetectorNode);
};
