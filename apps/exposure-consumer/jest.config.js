module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'exposure-consumer',
};
