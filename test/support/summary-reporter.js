'use strict';
/**
 * Mocha's spec reporter, plus the run's totals written as JSON to $MOCHA_STATS_FILE so that
 * scripts/test.js can print one closing line for all its runs.
 */
const fs = require('fs');
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const file = process.env.MOCHA_STATS_FILE;
      if (!file) return;
      const { passes, failures, pending, tests } = runner.stats;
      fs.writeFileSync(file, JSON.stringify({ passes, failures, pending, tests }));
    });
  }
}

module.exports = SummaryReporter;
