'use strict';
/**
 * Preloaded (`node -r`) into node-red-dev so that `validate` can run without the internet: its
 * look-ups of the Flow Library catalogue (catalogue.nodered.org: checks P08 "similar package names"
 * and N01 "unique node names") get an empty catalogue instead of failing the whole run. The test
 * reports those two checks as not run; every other request goes out as usual (the npm registry).
 */
const path = require('path');

const devDir = path.dirname(require.resolve('node-red-dev/package.json'));
const axios = require(require.resolve('axios', { paths: [devDir] }));
axios.interceptors.request.use((config) => {
  if (/^https?:\/\/catalogue\.nodered\.org\//.test(config.url || '')) {
    config.adapter = async (cfg) => ({ data: { modules: [] }, status: 200, statusText: 'OK (offline stand-in)', headers: {}, config: cfg, request: {} });
  }
  return config;
});
