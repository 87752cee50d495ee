// swagger-ui-dist ships no types; docs.ts calls only this.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  export default function SwaggerUIBundle(options: {
    url: string;
    dom_id: string;
    validatorUrl: string | null;
  }): unknown;
}
