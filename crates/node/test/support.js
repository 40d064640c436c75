'use strict'
// Shared by the tests: where the repository's fixtures are.

const { join } = require('node:path')

const REPO = join(__dirname, '..', '..', '..')
const FIXTURES = join(REPO, 'tests', 'fixtures')

module.exports = { REPO, FIXTURES }
