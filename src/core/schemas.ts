import { Type } from '@sinclair/typebox';

/** Wire schemas shared by every API that has IAM policies (google.iam.v1). */
export const BindingSchema = Type.Object(
  {
    role: Type.String(),
    members: Type.Array(Type.String()),
    condition: Type.Optional(
      Type.Object(
        {
          expression: Type.String(),
          title: Type.Optional(Type.String()),
          description: Type.Optional(Type.String()),
          location: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const PolicySchema = Type.Object(
  {
    version: Type.Optional(Type.Integer()),
    bindings: Type.Optional(Type.Array(BindingSchema)),
    etag: Type.Optional(Type.String()),
    auditConfigs: Type.Optional(Type.Array(Type.Unknown())),
  },
  { additionalProperties: false },
);

export const SetIamPolicyRequest = Type.Object(
  { policy: PolicySchema, updateMask: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const GetIamPolicyRequest = Type.Object(
  {
    options: Type.Optional(
      Type.Object({ requestedPolicyVersion: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

export const TestIamPermissionsRequest = Type.Object(
  { permissions: Type.Optional(Type.Array(Type.String())) },
  { additionalProperties: false },
);
