// JSON Schemas of the kinds programs send with response_format json_schema:
// records, nested objects, arrays with item counts, enums, anyOf/oneOf,
// $ref/$defs (and draft 7 definitions), formats, number bounds (negative,
// fractional, exclusive), patterns, tuples (prefixItems), type arrays,
// additionalProperties. structured.test.mjs sends each to the server.
const str = (extra = {}) => ({ type: 'string', ...extra });

export const schemas = [
  {
    name: 'person',
    schema: {
      type: 'object',
      properties: { name: str({ maxLength: 40 }), age: { type: 'integer', minimum: 0, maximum: 150 }, employed: { type: 'boolean' } },
      required: ['name', 'age', 'employed'],
      additionalProperties: false,
    },
  },
  {
    name: 'postal_address',
    schema: {
      type: 'object',
      properties: {
        street: str({ maxLength: 60 }),
        city: str({ minLength: 1, maxLength: 30 }),
        postal_code: str({ pattern: '^[0-9]{5}$' }),
        country: { enum: ['US', 'DE', 'FR', 'JP'] },
      },
      required: ['street', 'city', 'postal_code', 'country'],
      additionalProperties: false,
    },
  },
  {
    name: 'product',
    schema: {
      type: 'object',
      properties: {
        id: str({ format: 'uuid' }),
        title: str({ maxLength: 50 }),
        price: { type: 'number', exclusiveMinimum: 0, maximum: 10000 },
        currency: { type: 'string', enum: ['USD', 'EUR', 'GBP'] },
        tags: { type: 'array', items: str({ maxLength: 12 }), minItems: 1, maxItems: 3 },
      },
      required: ['id', 'title', 'price', 'currency', 'tags'],
      additionalProperties: false,
    },
  },
  {
    name: 'calendar_event',
    schema: {
      type: 'object',
      properties: {
        title: str({ maxLength: 40 }),
        start: str({ format: 'date-time' }),
        end: str({ format: 'date-time' }),
        all_day: { type: 'boolean' },
      },
      required: ['title', 'start', 'end', 'all_day'],
      additionalProperties: false,
    },
  },
  {
    name: 'birthday',
    schema: { type: 'object', properties: { who: str({ maxLength: 20 }), date: str({ format: 'date' }) }, required: ['who', 'date'], additionalProperties: false },
  },
  {
    name: 'alarm',
    schema: { type: 'object', properties: { at: str({ format: 'time' }), repeat: { enum: ['never', 'daily', 'weekdays'] } }, required: ['at', 'repeat'], additionalProperties: false },
  },
  {
    name: 'sentiment',
    schema: {
      type: 'object',
      properties: { label: { enum: ['positive', 'negative', 'neutral'] }, confidence: { type: 'number', minimum: 0, maximum: 1 } },
      required: ['label', 'confidence'],
      additionalProperties: false,
    },
  },
  {
    name: 'temperature_reading',
    schema: {
      type: 'object',
      properties: { sensor: str({ pattern: '^[a-z]+-[0-9]{2}$' }), celsius: { type: 'number', minimum: -273.15, maximum: 1000 } },
      required: ['sensor', 'celsius'],
      additionalProperties: false,
    },
  },
  {
    name: 'geo_point',
    schema: {
      type: 'object',
      properties: { lat: { type: 'number', minimum: -90, maximum: 90 }, lon: { type: 'number', exclusiveMinimum: -180, maximum: 180 } },
      required: ['lat', 'lon'],
      additionalProperties: false,
    },
  },
  {
    name: 'rgb_tuple',
    schema: {
      type: 'array',
      prefixItems: [0, 1, 2].map(() => ({ type: 'integer', minimum: 0, maximum: 255 })),
      items: false,
      minItems: 3,
    },
  },
  {
    name: 'matrix_2x2',
    schema: {
      type: 'array',
      items: { type: 'array', items: { type: 'number', minimum: -10, maximum: 10 }, minItems: 2, maxItems: 2 },
      minItems: 2,
      maxItems: 2,
    },
  },
  {
    name: 'nullable_fields',
    schema: {
      type: 'object',
      properties: { first: str({ maxLength: 20 }), middle: { type: ['string', 'null'], maxLength: 20 }, last: str({ maxLength: 20 }) },
      required: ['first', 'middle', 'last'],
      additionalProperties: false,
    },
  },
  {
    name: 'contact_anyof',
    schema: {
      type: 'object',
      properties: {
        contact: {
          anyOf: [
            { type: 'object', properties: { phone: str({ pattern: '^\\+[0-9]{7,12}$' }) }, required: ['phone'], additionalProperties: false },
            { type: 'object', properties: { handle: str({ pattern: '^@[a-z]{3,10}$' }) }, required: ['handle'], additionalProperties: false },
          ],
        },
      },
      required: ['contact'],
      additionalProperties: false,
    },
  },
  {
    name: 'shape_oneof',
    schema: {
      oneOf: [
        { type: 'object', properties: { kind: { const: 'circle' }, radius: { type: 'number', exclusiveMinimum: 0, maximum: 100 } }, required: ['kind', 'radius'], additionalProperties: false },
        {
          type: 'object',
          properties: { kind: { const: 'rect' }, width: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, height: { type: 'number', exclusiveMinimum: 0, maximum: 100 } },
          required: ['kind', 'width', 'height'],
          additionalProperties: false,
        },
      ],
    },
  },
  {
    name: 'order_refs',
    schema: {
      $defs: {
        line: {
          type: 'object',
          properties: { sku: str({ pattern: '^[A-Z]{3}-[0-9]{4}$' }), qty: { type: 'integer', minimum: 1, maximum: 99 } },
          required: ['sku', 'qty'],
          additionalProperties: false,
        },
      },
      type: 'object',
      properties: { order_id: { type: 'integer', minimum: 1 }, lines: { type: 'array', items: { $ref: '#/$defs/line' }, minItems: 1, maxItems: 3 } },
      required: ['order_id', 'lines'],
      additionalProperties: false,
    },
  },
  {
    name: 'recursive_tree',
    schema: {
      $ref: '#/$defs/node',
      $defs: {
        node: {
          type: 'object',
          properties: { value: { type: 'integer', minimum: -5, maximum: 5 }, children: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } },
          required: ['value'],
          additionalProperties: false,
        },
      },
    },
  },
  {
    name: 'log_entry',
    schema: {
      type: 'object',
      properties: {
        level: { enum: ['debug', 'info', 'warn', 'error'] },
        message: str({ maxLength: 80 }),
        timestamp: str({ format: 'date-time' }),
        context: { type: 'object', additionalProperties: str({ maxLength: 16 }) },
      },
      required: ['level', 'message', 'timestamp'],
      additionalProperties: false,
    },
  },
  {
    name: 'feature_flags',
    schema: {
      type: 'object',
      properties: { dark_mode: { type: 'boolean' }, beta: { type: 'boolean' }, telemetry: { type: 'boolean' } },
      required: ['dark_mode', 'beta', 'telemetry'],
      additionalProperties: false,
    },
  },
  {
    name: 'config_consts',
    schema: {
      type: 'object',
      properties: { version: { const: 2 }, kind: { const: 'config' }, retries: { type: 'integer', minimum: 0, maximum: 5 } },
      required: ['version', 'kind', 'retries'],
      additionalProperties: false,
    },
  },
  {
    name: 'id_type_array',
    schema: {
      type: 'object',
      properties: { id: { type: ['integer', 'string'], maxLength: 10 }, note: { type: ['string', 'null'], maxLength: 30 } },
      required: ['id', 'note'],
      additionalProperties: false,
    },
  },
  {
    name: 'progress_percent',
    schema: {
      type: 'object',
      properties: { task: str({ maxLength: 30 }), percent: { type: 'number', minimum: 0, exclusiveMaximum: 100 } },
      required: ['task', 'percent'],
      additionalProperties: false,
    },
  },
  {
    name: 'odd_bounds',
    schema: {
      type: 'object',
      properties: {
        delta: { type: 'number', minimum: -3.5, exclusiveMaximum: 2.25 },
        tiny: { type: 'number', exclusiveMinimum: -0.5, exclusiveMaximum: 0.5 },
        step: { type: 'integer', minimum: -7.5, maximum: -2.5 },
      },
      required: ['delta', 'tiny', 'step'],
      additionalProperties: false,
    },
  },
  {
    name: 'invoice',
    schema: {
      type: 'object',
      properties: {
        number: str({ pattern: '^INV-[0-9]{4}$' }),
        due: str({ format: 'date' }),
        lines: {
          type: 'array',
          items: { type: 'object', properties: { item: str({ maxLength: 24 }), amount: { type: 'number', minimum: 0.01, maximum: 999.99 } }, required: ['item', 'amount'], additionalProperties: false },
          minItems: 1,
          maxItems: 3,
        },
        paid: { type: 'boolean' },
      },
      required: ['number', 'due', 'lines', 'paid'],
      additionalProperties: false,
    },
  },
  {
    name: 'issue_tracker',
    schema: {
      type: 'object',
      properties: {
        number: { type: 'integer', minimum: 1 },
        title: str({ minLength: 3, maxLength: 60 }),
        state: { enum: ['open', 'closed'] },
        labels: { type: 'array', items: { enum: ['bug', 'feature', 'docs', 'question'] }, maxItems: 2 },
        assignee: { anyOf: [str({ pattern: '^[a-z][a-z0-9-]{1,15}$' }), { type: 'null' }] },
      },
      required: ['number', 'title', 'state', 'labels', 'assignee'],
      additionalProperties: false,
    },
  },
  {
    name: 'weather_forecast',
    schema: {
      type: 'object',
      properties: {
        city: str({ maxLength: 24 }),
        conditions: { enum: ['sunny', 'cloudy', 'rain', 'snow'] },
        forecast: {
          type: 'array',
          items: {
            type: 'object',
            properties: { day: { enum: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] }, high: { type: 'integer', minimum: -50, maximum: 60 }, low: { type: 'integer', minimum: -60, maximum: 50 } },
            required: ['day', 'high', 'low'],
            additionalProperties: false,
          },
          minItems: 1,
          maxItems: 2,
        },
      },
      required: ['city', 'conditions', 'forecast'],
      additionalProperties: false,
    },
  },
  {
    name: 'user_settings',
    schema: {
      type: 'object',
      properties: {
        theme: { enum: ['light', 'dark', 'system'] },
        language: str({ pattern: '^[a-z]{2}(-[A-Z]{2})?$' }),
        notifications: {
          type: 'object',
          properties: { email: { type: 'boolean' }, sms: { type: 'boolean' } },
          required: ['email', 'sms'],
          additionalProperties: false,
        },
      },
      required: ['theme', 'language', 'notifications'],
      additionalProperties: false,
    },
  },
  { name: 'keyword_list', schema: { type: 'array', items: str({ minLength: 1, maxLength: 15 }), minItems: 1, maxItems: 4 } },
  { name: 'yes_no_maybe', schema: { type: 'string', enum: ['yes', 'no', 'maybe'] } },
  { name: 'bare_bounded_number', schema: { type: 'number', minimum: -3.5, exclusiveMaximum: 2.25 } },
  {
    name: 'word_counts_map',
    schema: { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 1000 } },
  },
  {
    name: 'semver_release',
    schema: {
      type: 'object',
      properties: { version: str({ pattern: '^[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,3}$' }), date: str({ format: 'date' }), notes: { type: 'array', items: str({ maxLength: 30 }), maxItems: 2 } },
      required: ['version', 'date', 'notes'],
      additionalProperties: false,
    },
  },
  {
    name: 'deeply_nested',
    schema: {
      type: 'object',
      properties: {
        a: {
          type: 'object',
          properties: { b: { type: 'object', properties: { c: { type: 'object', properties: { d: str({ maxLength: 10 }) }, required: ['d'], additionalProperties: false } }, required: ['c'], additionalProperties: false } },
          required: ['b'],
          additionalProperties: false,
        },
      },
      required: ['a'],
      additionalProperties: false,
    },
  },
  {
    name: 'coupon_code',
    schema: {
      type: 'object',
      properties: { code: str({ minLength: 4, maxLength: 8 }), discount: { type: 'number', exclusiveMinimum: 0, maximum: 0.75 }, expires: str({ format: 'date-time' }) },
      required: ['code', 'discount', 'expires'],
      additionalProperties: false,
    },
  },
  {
    name: 'single_allof',
    schema: { allOf: [{ type: 'object', properties: { ok: { type: 'boolean' }, reason: str({ maxLength: 20 }) }, required: ['ok', 'reason'], additionalProperties: false }] },
  },
  {
    name: 'draft7_definitions',
    schema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      definitions: { money: { type: 'object', properties: { amount: { type: 'number', minimum: -1000.5, maximum: 1000.5 }, currency: { enum: ['USD', 'EUR'] } }, required: ['amount', 'currency'], additionalProperties: false } },
      type: 'object',
      properties: { balance: { $ref: '#/definitions/money' }, limit: { $ref: '#/definitions/money' } },
      required: ['balance', 'limit'],
      additionalProperties: false,
    },
  },
  {
    name: 'optional_properties',
    schema: {
      type: 'object',
      properties: { query: str({ maxLength: 30 }), page: { type: 'integer', minimum: 1, maximum: 50 }, sort: { enum: ['asc', 'desc'] }, exact: { type: 'boolean' } },
      required: ['query'],
      additionalProperties: false,
    },
  },
  {
    name: 'open_record',
    schema: {
      type: 'object',
      properties: { id: { type: 'integer', minimum: 1, maximum: 100 }, label: str({ maxLength: 10 }) },
      required: ['id'],
      additionalProperties: { type: 'string', maxLength: 10 },
    },
  },
  {
    name: 'mixed_tuple',
    schema: {
      type: 'array',
      prefixItems: [str({ format: 'date' }), { type: 'number', minimum: -1, maximum: 1 }, { enum: ['up', 'down'] }],
      items: { type: 'boolean' },
      minItems: 3,
      maxItems: 5,
    },
  },
];
