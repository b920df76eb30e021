/**
 * The whole detection path in one object, without Node-RED: packet batches in, anomaly events out.
 * It wires the same core modules the nodes wrap, in the same order, so the command-line tool and
 * the benchmarks give the alerts a Node-RED flow of the six nodes gives on the same capture.
 */
import type { AnomalyEvent, PacketBatch, WindowMessage } from './contracts';
import { FlowAggregator, type FlowAggregatorOptions } from './flow-aggregator';
import { BaselineStore, type BaselineOptions } from './baseline';
import { RuleDetector, type DetectorOptions } from './rules';
import { CooldownGate, type CooldownOptions } from './cooldown';

/** Options of each stage; each defaults to that node's defaults. */
export interface PipelineOptions {
  aggregator?: FlowAggregatorOptions;
  baseline?: BaselineOptions;
  detector?: DetectorOptions;
  /** `false` passes every event (no cooldown-gate stage). */
  cooldown?: CooldownOptions | false;
}

/** Counts of what went through the pipeline. */
export interface PipelineStats {
  batches: number;
  windows: number;
  /** Events the detector raised. */
  detected: number;
  /** Events that passed the cooldown gate. */
  passed: number;
}

/**
 * flow-aggregator → ewma-baseline → rule-detector → cooldown-gate.
 * @throws {RangeError} from a stage's constructor when an option is out of range.
 */
export class DetectionPipeline {
  readonly aggregator: FlowAggregator;
  readonly baseline: BaselineStore;
  readonly detector: RuleDetector;
  readonly cooldown: CooldownGate | null;
  private readonly counts: PipelineStats = { batches: 0, windows: 0, detected: 0, passed: 0 };

  constructor(options: PipelineOptions = {}) {
    this.aggregator = new FlowAggregator(options.aggregator);
    this.baseline = new BaselineStore(options.baseline);
    this.detector = new RuleDetector(options.detector);
    this.cooldown = options.cooldown === false ? null : new CooldownGate(options.cooldown);
  }

  /** Folds a packet batch in; returns the events that passed, oldest first. */
  ingest(batch: PacketBatch): AnomalyEvent[] {
    this.counts.batches++;
    return this.processWindows(this.aggregator.ingest(batch));
  }

  /** Closes the open window (end of a capture); returns the events that passed. */
  flush(): AnomalyEvent[] {
    return this.processWindows(this.aggregator.flush(true));
  }

  /** Runs windows (from the aggregator or any producer of the same shape) through the later stages. */
  processWindows(windows: WindowMessage[]): AnomalyEvent[] {
    const out: AnomalyEvent[] = [];
    for (const window of windows) {
      this.counts.windows++;
      const events = this.detector.evaluate(this.baseline.annotate(window));
      this.counts.detected += events.length;
      for (const event of events) {
        if (!this.cooldown) { out.push(event); continue; }
        const decision = this.cooldown.offer(event);
        if (decision.pass) out.push(decision.event);
      }
    }
    this.counts.passed += out.length;
    return out;
  }

  /** What went through so far. */
  get stats(): PipelineStats {
    return { ...this.counts };
  }
}
