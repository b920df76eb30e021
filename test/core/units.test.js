'use strict';
const { expect } = require('chai');
const { formatMetricValue } = require('../../dist/core/units.js');

describe('units: metric values for people', function () {
  it('gives rates derived by the rules their unit (SYN/s, pps for ICMP packets per second)', function () {
    expect(formatMetricValue('synPerSecond', 1234.4)).to.equal('1,234 SYN/s');
    expect(formatMetricValue('icmpPacketsPerSecond', 120)).to.equal('120 pps');
    expect(formatMetricValue('icmpPacketsPerSecond', 2.25)).to.equal('2.3 pps');
  });

  it('formats the aggregator metrics by the unit of the METRICS table', function () {
    expect(formatMetricValue('packetsPerSecond', 12.5)).to.equal('12.5 pps');
    expect(formatMetricValue('bytes', 512)).to.equal('512 bytes');
    expect(formatMetricValue('handshakeRttMs', 1500)).to.equal('1.5 s');
  });
});
