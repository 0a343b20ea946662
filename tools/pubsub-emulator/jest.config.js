module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'pubsub-emulator',
};
