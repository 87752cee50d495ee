// `/api/docs`: Swagger UI over the served OpenAPI document, bundled here from swagger-ui-dist so the
// page loads nothing from another origin (its Content-Security-Policy allows only its own).
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import "swagger-ui-dist/swagger-ui.css";

SwaggerUIBundle({
  url: new URL("api/openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  // No badge from the public validator: it would send the document's address to another origin.
  validatorUrl: null,
});
