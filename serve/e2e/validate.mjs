// A JSON Schema validator for the answers: ajv (draft 2020-12) with the
// formats of ajv-formats, an implementation independent of the server's.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

// validator compiles schema into a function that throws on an invalid value.
export function validator(schema) {
  const { $schema, ...rest } = schema; // draft 7's keywords read the same here
  const check = ajv.compile(rest);
  return (value) => {
    if (!check(value)) {
      throw new Error(`${JSON.stringify(value)} does not validate: ${ajv.errorsText(check.errors)}`);
    }
  };
}

// keyOrder throws when an object lists the properties its schema names in
// another order than the schema (following properties and items, not $ref).
export function keyOrder(value, schema, path = '$') {
  if (!schema || typeof schema !== 'object' || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => keyOrder(v, Array.isArray(schema.prefixItems) && i < schema.prefixItems.length ? schema.prefixItems[i] : schema.items, `${path}[${i}]`));
    return;
  }
  if (!schema.properties) return;
  const order = Object.keys(schema.properties);
  const seen = Object.keys(value).filter((k) => order.includes(k));
  const want = order.filter((k) => seen.includes(k));
  if (seen.join() !== want.join()) throw new Error(`${path}: keys ${seen} are not in the schema's order ${want}`);
  for (const k of seen) keyOrder(value[k], schema.properties[k], `${path}.${k}`);
}
