// Every test process: never let the Google client probe a cloud metadata server.
process.env.METADATA_SERVER_DETECTION = 'none';
