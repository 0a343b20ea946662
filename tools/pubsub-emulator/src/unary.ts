import type * as grpc from '@grpc/grpc-js';
import { toGrpcError } from './errors';

/**
 * Wraps a synchronous broker operation as a unary gRPC handler: its return
 * value is the response, anything it throws becomes the gRPC status.
 */
export function unary<Req, Res>(fn: (request: Req) => Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    try {
      callback(null, fn(call.request));
    } catch (err) {
      callback(toGrpcError(err));
    }
  };
}
