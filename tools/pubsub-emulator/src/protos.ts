import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Loads google.pubsub.v1 from the .proto files shipped inside
 * @google-cloud/pubsub, so the emulator speaks exactly the schema of the client
 * version we depend on. Its imports (google/api/*, google/protobuf/*) live in
 * google-gax, resolved from @google-cloud/pubsub's own location because npm may
 * nest a different google-gax under it. google-gax does not export its
 * package.json, so we resolve its main entry and walk up to the package root.
 */
const PUBSUB_PROTO = 'google/pubsub/v1/pubsub.proto';

/** proto-loader options: camelCase fields, 64-bit ints as strings, defaults filled in. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export interface PubSubServices {
  publisher: grpc.ServiceDefinition;
  subscriber: grpc.ServiceDefinition;
}

function packageRoot(entryFile: string, packageName: string): string {
  const marker = `${path.sep}node_modules${path.sep}${packageName.split('/').join(path.sep)}${path.sep}`;
  const index = entryFile.lastIndexOf(marker);
  if (index < 0) throw new Error(`Cannot locate package root of ${packageName} from ${entryFile}`);
  return entryFile.slice(0, index + marker.length - 1);
}

export function protoIncludeDirs(): string[] {
  const pubsubProto = require.resolve(`@google-cloud/pubsub/build/protos/${PUBSUB_PROTO}`);
  const pubsubProtosDir = pubsubProto.slice(0, pubsubProto.length - PUBSUB_PROTO.length - 1);
  const gaxEntry = require.resolve('google-gax', { paths: [path.dirname(pubsubProto)] });
  const gaxProtosDir = path.join(packageRoot(gaxEntry, 'google-gax'), 'build', 'protos');
  return [pubsubProtosDir, gaxProtosDir];
}

export function loadPubSubServices(): PubSubServices {
  const definition = protoLoader.loadSync(PUBSUB_PROTO, { ...LOADER_OPTIONS, includeDirs: protoIncludeDirs() });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    google: { pubsub: { v1: Record<string, grpc.ServiceClientConstructor> } };
  };
  const v1 = pkg.google.pubsub.v1;
  return { publisher: v1.Publisher.service, subscriber: v1.Subscriber.service };
}
