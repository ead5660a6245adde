/// The OpenAPI 3.0 description of the API, served at `GET /openapi.yaml`. Kept beside the code
/// that implements it; `ServingTests` checks that every route is described and that the
/// server's answers have the documented fields, and schemathesis fuzzes the server from it.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.0.3
info:
  title: SeqModels
  version: "1"
  description: >
    Part-of-speech tagging, text classification and text generation with trained SeqModels
    LSTM models, served by `seqmodels serve`. Every error is a JSON object
    {"error": {"code", "message"}} with a 4xx status for the client's mistakes and 503 when
    the server is busy or shutting down.
paths:
  /:
    get:
      summary: The web page (HTML, CSS and JavaScript, nothing fetched from elsewhere)
      responses:
        "200":
          description: The page.
          content:
            text/html:
              schema: {type: string}
  /openapi.yaml:
    get:
      summary: This document
      responses:
        "200":
          description: The OpenAPI document.
          content:
            application/yaml:
              schema: {type: string}
  /metrics:
    get:
      summary: Prometheus metrics (text exposition format)
      responses:
        "200":
          description: Requests, errors and latencies by route; batch sizes by model.
          content:
            text/plain:
              schema: {type: string}
  /health:
    get:
      summary: Liveness
      responses:
        "200":
          description: The server runs.
          content:
            application/json:
              schema:
                type: object
                required: [status, models]
                properties:
                  status: {type: string, enum: [ok]}
                  models: {type: integer, minimum: 1}
  /v1/models:
    get:
      summary: The models this server holds
      responses:
        "200":
          description: One card per model.
          content:
            application/json:
              schema:
                type: object
                required: [models]
                properties:
                  models:
                    type: array
                    items: {$ref: "#/components/schemas/ModelCard"}
  /v1/tag:
    post:
      summary: Tag the parts of speech of sentences
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/TagRequest"}
      responses:
        "200":
          description: Tokens and tags per sentence.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/TagResponse"}
        "400": {$ref: "#/components/responses/Error"}
        "404": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "415": {$ref: "#/components/responses/Error"}
        "503": {$ref: "#/components/responses/Error"}
  /v1/classify:
    post:
      summary: Classify texts (reviews)
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/ClassifyRequest"}
      responses:
        "200":
          description: The most probable label of each text, with every label's probability.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/ClassifyResponse"}
        "400": {$ref: "#/components/responses/Error"}
        "404": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "415": {$ref: "#/components/responses/Error"}
        "503": {$ref: "#/components/responses/Error"}
  /v1/classify/csv:
    post:
      summary: Label a CSV or TSV upload as it streams
      description: >
        Every row comes back with its columns and two more, predicted_label and probability
        (empty for a row whose text has no tokens). Streamed both ways.
      parameters:
        - {name: text_column, in: query, schema: {type: string, default: text}, description: Header name or 0-based index of the text column.}
        - {name: format, in: query, schema: {type: string, enum: [csv, tsv], default: csv}}
        - {name: model, in: query, schema: {type: string}}
      requestBody:
        required: true
        content:
          text/csv:
            schema: {type: string, minLength: 1, description: "CSV (or TSV with format=tsv) with a header row that names the text column."}
      responses:
        "200":
          description: The labelled rows.
          content:
            text/csv:
              schema: {type: string}
        "400": {$ref: "#/components/responses/Error"}
        "404": {$ref: "#/components/responses/Error"}
        "503": {$ref: "#/components/responses/Error"}
  /v1/generate:
    post:
      summary: Continue a text
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/GenerateRequest"}
      responses:
        "200":
          description: The prefix and its continuation.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/GenerateResponse"}
        "400": {$ref: "#/components/responses/Error"}
        "404": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "415": {$ref: "#/components/responses/Error"}
        "503": {$ref: "#/components/responses/Error"}
  /v1/acrostic:
    post:
      summary: Write acrostic poems (藏头诗)
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/AcrosticRequest"}
      responses:
        "200":
          description: The poems, each with its score and the check of every constraint.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/AcrosticResponse"}
        "400": {$ref: "#/components/responses/Error"}
        "404": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "415": {$ref: "#/components/responses/Error"}
        "503": {$ref: "#/components/responses/Error"}
components:
  responses:
    Error:
      description: What was wrong.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
  schemas:
    Error:
      type: object
      required: [error]
      properties:
        error:
          type: object
          required: [code, message]
          properties:
            code: {type: string}
            message: {type: string}
    ModelCard:
      type: object
      required: [name, task, directory, parameters, vocabulary_size]
      properties:
        name: {type: string}
        task: {type: string, enum: [tagger, classifier, generator]}
        directory: {type: string}
        parameters: {type: integer}
        vocabulary_size: {type: integer}
        labels: {type: array, items: {type: string}, description: The tag set or the labels.}
        level: {type: string, enum: [char, word]}
        records: {type: string, enum: [lines, stream]}
        trained_to:
          type: object
          required: [metric, value, epoch]
          properties:
            metric: {type: string}
            value: {type: number}
            epoch: {type: integer}
    TagRequest:
      type: object
      required: [sentences]
      properties:
        sentences: {type: array, minItems: 1, maxItems: 256, items: {type: string, pattern: '\S', maxLength: 100000}}
        pretokenized: {type: boolean, default: false, description: Tokens separated by whitespace., nullable: true}
        probabilities: {type: boolean, default: false, description: Every tag's probability at every token., nullable: true}
        model: {type: string, nullable: true}
    TagResponse:
      type: object
      required: [model, sentences]
      properties:
        model: {type: string}
        sentences:
          type: array
          items:
            type: object
            required: [tokens, tags]
            properties:
              tokens: {type: array, items: {type: string}}
              tags: {type: array, items: {type: string}}
              probabilities:
                type: array
                items: {type: object, additionalProperties: {type: number}}
    ClassifyRequest:
      type: object
      required: [texts]
      properties:
        texts: {type: array, minItems: 1, maxItems: 256, items: {type: string, pattern: '\S', maxLength: 100000}}
        model: {type: string, nullable: true}
    ClassifyResponse:
      type: object
      required: [model, results]
      properties:
        model: {type: string}
        results:
          type: array
          items:
            type: object
            required: [label, probability, probabilities]
            properties:
              label: {type: string}
              probability: {type: number}
              probabilities: {type: object, additionalProperties: {type: number}}
    GenerateRequest:
      type: object
      properties:
        prefix: {type: string, maxLength: 100000, nullable: true}
        length: {type: integer, minimum: 0, maximum: 2000, default: 200, nullable: true}
        temperature: {type: number, minimum: 0, maximum: 100, default: 1, nullable: true}
        top_k: {type: integer, minimum: 1, maximum: 1000000000, nullable: true}
        top_p: {type: number, minimum: 0.001, maximum: 1, nullable: true}
        seed: {type: integer, minimum: 0, nullable: true}
        beam: {type: integer, minimum: 1, maximum: 10, default: 1, nullable: true}
        model: {type: string, nullable: true}
    GenerateResponse:
      type: object
      required: [model, prefix, text, tokens, ended, unknown_prefix_tokens, seed]
      properties:
        model: {type: string}
        prefix: {type: string}
        text: {type: string}
        tokens: {type: array, items: {type: string}}
        ended: {type: boolean}
        unknown_prefix_tokens: {type: array, items: {type: string}}
        seed: {type: integer}
    AcrosticRequest:
      type: object
      required: [head]
      properties:
        head: {type: string, minLength: 1, maxLength: 16}
        line_length: {type: integer, enum: [5, 7], default: 7, nullable: true}
        count: {type: integer, minimum: 1, maximum: 10, default: 1, nullable: true}
        seed: {type: integer, minimum: 0, nullable: true}
        temperature: {type: number, minimum: 0, maximum: 100, default: 1, nullable: true}
        beam: {type: integer, minimum: 1, maximum: 10, default: 1, nullable: true}
        rhyme: {type: boolean, default: false, nullable: true}
        model: {type: string, nullable: true}
    AcrosticResponse:
      type: object
      required: [model, poems, seed]
      properties:
        model: {type: string}
        seed: {type: integer}
        poems:
          type: array
          items:
            type: object
            required: [head, lines, poem, meanLogProbability, constraints]
            properties:
              head: {type: string}
              lines: {type: array, items: {type: string}}
              poem: {type: string}
              meanLogProbability: {type: number}
              constraints: {type: object, additionalProperties: {type: boolean}}
"""#
}
